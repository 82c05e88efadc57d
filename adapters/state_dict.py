"""PyTorch state dicts (`pytorch_model.bin`, `.pt`, `.pth` written by `torch.save(model.state_dict())`)
read without running code and without reading tensor data.

The format is sniffed from the content, not the name: a `torch.save` zip archive is loaded with
`torch.load(weights_only=True, mmap=True, map_location="meta")` (the restricted unpickler builds only
tensors and containers; meta storages read no data); a legacy (pre-1.6) pickle the same way under
FakeTensorMode, which skips its storage bytes.  A file that pickles anything else (a whole
`nn.Module`, an arbitrary class) is refused with the global it needs: unpickling it can run code.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

from adapters.checkpoint import checkpoint_ir
from adapters.checkpoint_kinds import Stored
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
"""The first bytes of a legacy torch.save file: pickle protocol 2 and torch's magic number."""

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module", "weights", "params")
"""Entries of a training checkpoint that hold the model's state dict (Lightning, plain training loops)."""


def is_torch_file(path: str) -> bool:
    """True when `path` is a torch.save file (zip with a data.pkl, or a legacy pickle with torch's magic)."""
    return file_kind(path) in ("zip", "legacy")


def file_kind(path: str) -> str:
    """"zip", "torchscript", "legacy", "safetensors" or "unknown", from the first bytes and zip members."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return "unknown"
    if head.startswith(LEGACY_MAGIC[:16]):
        return "legacy"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "unknown"
        if any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            return "zip"
    return "unknown"


def read_state_dict(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """A torch.save file holding tensors only (a state dict, or a training checkpoint around one) as a ModelIR."""
    options = resolve(options, values)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    kind = file_kind(path)
    if kind == "safetensors":
        from adapters.safetensors_file import read_safetensors

        return read_safetensors(path, options)
    tensors, notes = _tensors(path, kind)
    return checkpoint_ir(tensors, name=options.name or os.path.basename(path).split(".")[0],
                         source=options.source or path, framework="state_dict", notes=notes)


def read_state_dict_tensors(path: str) -> list[Stored]:
    """One shard's tensors (for `sharded`)."""
    return _tensors(path, file_kind(path))[0]


def _tensors(path: str, kind: str) -> tuple[list[Stored], list[str]]:
    if kind == "pickle":
        raise InputError(f"{path}: a plain pickle, not a torch.save state dict: unpickling it can run arbitrary "
                         "code, so it is not loaded")
    if kind in ("unknown", "torchscript"):
        raise InputError(f"{path}: unknown model format: not a PyTorch state dict (a torch.save zip or legacy pickle) "
                         "nor a safetensors file")
    loaded = _load(path, kind)
    state, where = _state_dict(loaded)
    if not state:
        raise InputError(f"{path}: holds no tensors (not a state dict)")
    notes = [f"PyTorch state dict ({'zip archive' if kind == 'zip' else 'legacy pickle'}), read with "
             "weights_only=True on the meta device: no code run, no tensor data read"]
    if where:
        notes.append(f"tensors read from the checkpoint's {where!r} entry")
    return _stored(state), notes


def _load(path: str, kind: str) -> Any:
    import pickle

    import torch

    try:
        if kind == "zip":
            return torch.load(path, map_location="meta", weights_only=True, mmap=True)
        from torch._subclasses.fake_tensor import FakeTensorMode

        with FakeTensorMode():
            return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        needs = f" (it pickles {found.group(1)})" if found else ""
        raise InputError(
            f"{path}: not a plain state dict{needs}: unpickling it can run arbitrary code, so it is not loaded; "
            "save model.state_dict() instead, export with torch.export.save, or audit its code as package.module:factory"
        ) from None
    except Exception as err:  # a damaged archive fails in many ways
        text = " ".join(str(err).split())[:160]
        raise InputError(f"{path}: not a readable PyTorch file ({type(err).__name__}: {text})") from None


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "untyped_storage")


def _state_dict(loaded: Any) -> tuple[dict[str, Any], str]:
    """(name -> tensor, the entry it came from): the mapping itself, a known entry, or every tensor nested."""
    if isinstance(loaded, Mapping):
        if loaded and all(_is_tensor(v) for v in loaded.values()):
            return {str(k): v for k, v in loaded.items()}, ""
        for key in STATE_DICT_KEYS:
            value = loaded.get(key)
            if isinstance(value, Mapping) and value and all(_is_tensor(v) for v in value.values()):
                return {str(k): v for k, v in value.items()}, key
    return dict(_nested(loaded, "")), ""


def _nested(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if _is_tensor(value):
        yield prefix or "tensor", value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _nested(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _nested(item, f"{prefix}.{index}" if prefix else str(index))


def _stored(state: dict[str, Any]) -> list[Stored]:
    """Tensors with exact bytes; a name whose tensor is an earlier one's (same storage and view) shares it."""
    first: dict[tuple[Any, ...], str] = {}
    out = []
    for name, t in state.items():
        storage = t.untyped_storage()
        where = getattr(storage, "_checkpoint_offset", None)
        key = (where, t.storage_offset(), tuple(t.shape), tuple(t.stride()), str(t.dtype)) if where is not None else None
        shares = first.get(key) if key is not None else None
        if key is not None and shares is None:
            first[key] = name
        shape = tuple(int(d) for d in t.shape)
        dtype = str(t.dtype).removeprefix("torch.")
        out.append(Stored(name, shape, dtype, int(t.numel()) * t.element_size(), shares))
    return out
