"""A list of stored tensors (a checkpoint's names, dims, dtypes and byte sizes) as a ModelIR.

Every reader of weight files (safetensors, GGUF, state dicts, Keras `.weights.h5`) ends here: tensors
are grouped into layers by name prefix (`model.layers.0.self_attn.q_proj.weight` -> layer
`model.layers.0.self_attn.q_proj`), each group's kind and attrs are inferred by the conventions in
`checkpoint_kinds`, and the full tensor list is kept as `ModelIR.tensors` for the comparison with an
architecture.  No tensor data is involved at any point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from adapters.checkpoint_kinds import INFERRED, Stored, infer
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.ir_tensors import Packing
from auditor.rules.quantization import QUANT_STATE_SUFFIXES

_MULTI_PART_STATE = tuple(s for suffixes in QUANT_STATE_SUFFIXES.values() for s in suffixes if "." in s)
"""Quantization state written under the weight's own name (`q_proj.weight.absmax`): it belongs to `q_proj`."""


def split_name(name: str, separator: str = ".") -> tuple[str, str]:
    """(layer path, tensor name within the layer): the last component, or a multi-part state suffix."""
    if separator == ".":
        for suffix in _MULTI_PART_STATE:
            at = name.find("." + suffix)
            end = at + 1 + len(suffix)
            if at > 0 and (end == len(name) or name[end] == "."):
                return name[:at], name[at + 1 :]
    layer, _, leaf = name.rpartition(separator)
    return layer, leaf


def natural_key(text: str) -> list[Any]:
    """Sort key that orders `layers.2` before `layers.10`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def group(tensors: Iterable[Stored], separator: str = ".") -> dict[str, dict[str, Stored]]:
    """Layer path -> {tensor name within the layer: tensor}, layers in natural name order."""
    groups: dict[str, dict[str, Stored]] = {}
    for tensor in tensors:
        layer, leaf = split_name(tensor.name, separator)
        groups.setdefault(layer, {})[leaf] = tensor
    return {path: groups[path] for path in sorted(groups, key=natural_key)}


def checkpoint_ir(
    tensors: list[Stored], *, name: str, source: str, framework: str, layout: str = "torch",
    separator: str = ".", notes: list[str] | None = None, metadata: dict[str, Any] | None = None,
    packings: dict[str, Packing] | None = None,
) -> ModelIR:
    """The IR of a checkpoint: one inferred layer per name prefix; tied copies marked shared.

    `packings` gives, by full tensor name, the stored form of tensors whose format says how they
    are packed (GGUF quantization blocks)."""
    if not tensors:
        raise InputError(f"{source}: holds no tensors")
    owners = _owners(tensors, separator)
    layers: list[Layer] = []
    by_name: dict[str, ParamTensor] = {}
    for path, members in group(tensors, separator).items():
        inferred = infer(path, members, layout)
        params = []
        for p in inferred.params:
            full = _full_name(path, p, separator)
            if packings and full in packings:
                p = replace(p, packing=packings[full])
            p = _shared(p, members, owners)
            params.append(p)
            by_name[full] = p
        layers.append(Layer(path=path or "(root)", kind=inferred.kind, source_type=f"{framework} tensors",
                            attrs=inferred.attrs, params=params, inferred=INFERRED))
    return ModelIR(name=name, framework=framework, source=source, layers=layers, path_separator=separator,
                   notes=list(notes or []), tensors=by_name, metadata=dict(metadata or {}))


def _full_name(path: str, p: ParamTensor, separator: str) -> str:
    """The tensor's name with its layer; a packed weight under its logical name (`weight`, not `qweight`)."""
    return f"{path}{separator}{p.name}" if path else p.name


def _owners(tensors: list[Stored], separator: str) -> dict[str, str]:
    """Tensor name -> layer path of the tensor whose data it shares (tied weights stored once)."""
    return {t.name: split_name(t.shares, separator)[0] for t in tensors if t.shares is not None}


def _shared(p: ParamTensor, members: dict[str, Stored], owners: dict[str, str]) -> ParamTensor:
    stored = members.get(p.packing.stored_name if p.packing is not None else p.name)
    owner = owners.get(stored.name) if stored is not None else None
    if owner is None:
        return p
    return replace(p, shared_with=owner or "(root)", stored_bytes=0)
