"""Adapters translate a model from a framework into the common `ModelIR`, and do nothing else.

Owns: one module per framework or file format, the readers table (`FILE_READERS`, suffix -> reader),
and the dispatch of in-memory objects to their framework (`from_object`).  Each framework's adapter is
imported only when a model of that framework is read, so auditing an ONNX file never imports torch or
tensorflow.  Every reader takes one `AuditOptions` (keyword arguments are parsed into one by
`auditor.options.resolve`).  Specs (`reference:NAME`, factories, folders) are resolved above, in
`auditor.loader`.
May import: the core (`auditor.ir`, `auditor.ir_tensors`, `auditor.pass_facts`, `auditor.records`,
`auditor.collector`, `auditor.errors`, `auditor.options`, `auditor.registry`, `auditor.rules`), never
`auditor.loader`, the API (`auditor` itself) or `reference_models`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from adapters.quiet import silenced_stderr
from adapters.sniff import check_content
from adapters.torchscript_archive import is_torchscript
from auditor.collector import collector_paused
from auditor.errors import InputError, not_installed
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

FILE_READERS: dict[str, tuple[str, str]] = {
    ".onnx": ("adapters.onnx", "read_onnx"),
    ".keras": ("adapters.keras_files", "read_keras_file"),
    ".h5": ("adapters.keras_files", "read_keras_file"),
    ".hdf5": ("adapters.keras_files", "read_keras_file"),
    ".pt2": ("adapters.torch_export", "read_exported_program"),
    ".pt": ("adapters.torch_files", "read_torch_file"),
    ".pth": ("adapters.torch_files", "read_torch_file"),
    ".ts": ("adapters.torch_files", "read_torch_file"),
    ".bin": ("adapters.torch_files", "read_torch_file"),
    ".safetensors": ("adapters.safetensors_file", "read_safetensors"),
    ".gguf": ("adapters.gguf_file", "read_gguf"),
    ".json": ("adapters.hf_json", "read_json"),
    ".weights.h5": ("adapters.keras_weights", "read_keras_weights"),
    ".jit": ("adapters.torchscript", "read_torchscript"),
    ".torchscript": ("adapters.torchscript", "read_torchscript"),
}
"""File suffix -> (adapter module, reader function); the longest matching suffix wins (`.weights.h5`).
A TorchScript archive is recognised by its content first, whatever its suffix."""


FORK_SAFE: dict[str, tuple[str, ...]] = {
    "adapters.onnx": ("adapters.onnx",),  # not "onnx": the reader loads two of its modules (adapters.onnx_core)
    "adapters.keras_files": ("adapters.keras_files",),
    "adapters.safetensors_file": ("adapters.safetensors_file",),
    "adapters.gguf_file": ("adapters.gguf_file", "gguf"),
    "adapters.hf_json": ("adapters.hf_json",),
}
"""Reader module -> what it imports to read a file, for the readers whose imports start no threads (no
torch, no TensorFlow): a forkserver may import these before it forks the batch's workers."""


def fork_safe_imports(paths: Sequence[str]) -> list[str]:
    """The FORK_SAFE imports these paths' readers need, each once, in first-seen order."""
    found: list[str] = []
    for path in paths:
        for module in FORK_SAFE.get(FILE_READERS.get(file_suffix(path), ("", ""))[0], ()):
            if module not in found:
                found.append(module)
    return found


Reader = Callable[..., ModelIR]
"""(path, AuditOptions) -> ModelIR."""


def reader(module: str, function: str) -> Reader:
    """The reader `function` of adapter `module`, imported now; InputError when its framework is missing."""
    try:
        found: Reader = getattr(importlib.import_module(module), function)
    except ImportError as err:
        raise not_installed(err, module) from None
    return found


def _read(module: str, function: str, path: str, options: AuditOptions) -> ModelIR:
    """Import the reader and run it with the framework's log lines kept off stderr (unless `debug`), and
    automatic garbage collection paused (`auditor.collector`: an ONNX BERT's read ran 18 young
    collections, ~3 ms, over objects that reference counting frees anyway)."""
    with silenced_stderr(not options.debug), collector_paused():
        result: ModelIR = reader(module, function)(path, options)
    return result


def read_file(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Read a model file: a TorchScript archive by its content, whatever its suffix; other files by their
    suffix (`FILE_READERS`), their first bytes checked against it before any framework is imported;
    InputError for a missing file or an unknown format."""
    parsed = resolve(options, values)
    if os.path.isfile(path) and is_torchscript(path):
        return _read("adapters.torchscript", "read_torchscript", path, parsed)
    suffix = file_suffix(path)
    if suffix in FILE_READERS:
        check_content(path, suffix)
        return _read(*FILE_READERS[suffix], path, parsed)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    raise InputError(
        f"{path}: unknown model format {suffix or '(no extension)'}; expected one of "
        f"{', '.join(sorted(FILE_READERS))}, reference:NAME or package.module:factory"
    )


def file_suffix(spec: str) -> str:
    """The longest suffix of `spec` that FILE_READERS knows (".weights.h5" before ".h5"), else its extension."""
    lowered = spec.lower()
    known = [suffix for suffix in FILE_READERS if lowered.endswith(suffix)]
    return max(known, key=len) if known else os.path.splitext(lowered)[1]


def align_names(architecture: ModelIR, checkpoint: ModelIR) -> ModelIR:
    """The checkpoint with its tensors under the architecture's names where its format names them its own
    way (GGUF's `blk.0.attn_q.weight`), so the two can be paired by name."""
    if checkpoint.framework == "gguf":
        return reader("adapters.gguf_file", "architecture_names")(checkpoint, list(architecture.tensors))
    return checkpoint


def framework_of(obj: Any) -> str | None:
    """"torch" or "keras" by the module of the object's classes, without importing either."""
    for cls in type(obj).__mro__:
        root = (cls.__module__ or "").split(".")[0]
        if root in ("torch", "keras", "tf_keras"):
            return "keras" if root != "torch" else "torch"
    return None


def _is_script_module(obj: Any) -> bool:
    """A torch.jit.script / torch.jit.trace module (checked by class, without importing torch)."""
    return any(c.__name__ == "ScriptModule" and c.__module__.startswith("torch.jit") for c in type(obj).__mro__)


def from_object(obj: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate an in-memory model object (or a (module, example_inputs) pair) into the IR."""
    parsed = resolve(options, values)
    if isinstance(obj, ModelIR):
        return obj
    target = obj[0] if isinstance(obj, tuple) and len(obj) == 2 else obj
    framework = framework_of(target)
    if framework == "torch":
        if target is not obj and parsed.example_inputs is None:
            parsed = dataclasses.replace(parsed, example_inputs=obj[1])
        if _is_script_module(target):
            return reader("adapters.torchscript", "from_script_module")(target, parsed)
        return reader("adapters.torch", "from_module")(target, parsed)
    if framework == "keras":
        return reader("adapters.keras", "from_model")(target, parsed)
    raise InputError(f"cannot audit a {type(obj).__module__}.{type(obj).__qualname__}: not a PyTorch or Keras model")
