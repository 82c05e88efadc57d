"""The two parts of the `onnx` package an ONNX read uses, loaded without running `onnx/__init__.py`: its
protobuf classes (`onnx.onnx_ml_pb2`) and its C++ library (`onnx.onnx_cpp2py_export`: shape inference,
operator schemas).

`onnx/__init__.py` imports numpy, ml_dtypes and most of the package (helper, compose, the reference
evaluator's tables): about 0.1 s of the 0.23 s that `audit bert.onnx` took as a process, for code the read
never calls.  The two modules are put in `sys.modules` under their own names, exactly where `import onnx`
would put them, so a later `import onnx` (the user's, or a rare path here: the function inliner, numpy's
conversion of an unusual tensor) finds and keeps them: one set of proto classes, one C++ library per process.
When onnx is imported already, or its files are not where this expects them, plain `import onnx` is used.
Such a later import also gets them as the package's attributes (`onnx.onnx_cpp2py_export`: user code
reads it, e.g. to catch the checker's ValidationError), which the import system would not set for modules
it did not load itself: a one-shot finder (`_AttachAfterImport`) sets them once the package has run.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

NATIVE, PROTO = "onnx.onnx_cpp2py_export", "onnx.onnx_ml_pb2"
"""The modules' own names: those `import onnx` gives them."""

_loading = threading.Lock()
_ready: tuple[ModuleType, ModuleType] | None = None
"""Both modules once they have run (set under `_loading`)."""


def native() -> ModuleType:
    """onnx's C++ library (`shape_inference.infer_shapes`, `defs.get_schema`, ...)."""
    return _modules()[0]


def proto() -> ModuleType:
    """onnx's protobuf classes (`ModelProto`, `AttributeProto`, ...), the ones `onnx.ModelProto` names."""
    return _modules()[1]


def parse_model(data: bytes) -> Any:
    """A ModelProto from the file's bytes, checked as `onnx.load` checks them (every byte consumed)."""
    from google.protobuf.message import DecodeError

    model = proto().ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):
        raise DecodeError(f"Protobuf decoding consumed too few bytes: {decoded} out of {len(data)}")
    return model


def infer_shapes(model: Any, *, strict_mode: bool = False, data_prop: bool = False) -> Any:
    """`onnx.shape_inference.infer_shapes(model, strict_mode=, data_prop=)`: the same C++ call on the same
    bytes; raises the library's `InferenceError` (`inference_error()`) where that does."""
    inferred = native().shape_inference.infer_shapes(model.SerializeToString(), False, strict_mode, data_prop)
    return parse_model(inferred)


def inference_error() -> type[Exception]:
    """`onnx.shape_inference.InferenceError`."""
    error: type[Exception] = native().shape_inference.InferenceError
    return error


def _modules() -> tuple[ModuleType, ModuleType]:
    """Both modules, complete: another thread sees them only once they have run (`_ready`)."""
    global _ready
    if _ready is not None:
        return _ready
    with _loading:
        if _ready is None:
            _ready = _load_or_import()
        return _ready


def _load_or_import() -> tuple[ModuleType, ModuleType]:
    if "onnx" not in sys.modules:
        try:
            loaded = _load_alone()
        except Exception:  # noqa: BLE001 - another layout of the package: import it as usual below
            pass
        else:
            if "onnx" not in sys.modules:  # (a thread of the user's may have imported it meanwhile)
                sys.meta_path.insert(0, _AttachAfterImport())
            return loaded
    import onnx  # noqa: F401 - registers both modules (waits for another thread's import of it to finish)

    return sys.modules[NATIVE], sys.modules[PROTO]


def _load_alone() -> tuple[ModuleType, ModuleType]:
    """Both modules from the onnx package's folder, found without importing the package."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'onnx'", name="onnx")
    folder = list(spec.submodule_search_locations)[0]
    library = _load(NATIVE, _extension_path(folder), importlib.machinery.ExtensionFileLoader)
    if not getattr(library, "ONNX_ML", False):  # a build without the ML ops names its classes onnx_pb2
        raise ImportError("onnx was built without ONNX_ML")
    classes = _load(PROTO, os.path.join(folder, "onnx_ml_pb2.py"), importlib.machinery.SourceFileLoader)
    return library, classes


def _extension_path(folder: str) -> str:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "onnx_cpp2py_export" + suffix)
        if os.path.isfile(path):
            return path
    raise ImportError(f"no onnx_cpp2py_export extension in {folder}")


def _load(name: str, path: str, loader_class: Any) -> ModuleType:
    """The module at `path`, run first and then put in `sys.modules` as `name`, so no other thread (nor an
    `import onnx` there) meets it half-built; when one registered it meanwhile, that one (the same classes:
    protobuf keeps one class per message of its pool)."""
    if name in sys.modules:
        return sys.modules[name]
    if not os.path.isfile(path):
        raise ImportError(f"no {path}")
    loader = loader_class(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return sys.modules.setdefault(name, module)


class _AttachAfterImport:
    """A one-shot `sys.meta_path` finder, put first after a lone load: when `onnx` itself is imported later,
    the package gets the two modules as attributes once its `__init__` has run (`onnx.onnx_cpp2py_export`),
    as a plain `import onnx` leaves it; the import system sets those only for submodules it loads itself."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "onnx":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # what the finders after this one find
        if spec is not None and spec.loader is not None:
            spec.loader = _Attaching(spec.loader)  # type: ignore[assignment]
        return spec


class _Attaching:
    """`loader`, whose `exec_module` then also sets the attributes, and puts `loader` back in the package's
    `__loader__` and `__spec__`, so nothing of this stays visible after the import."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            self.loader.exec_module(module)
        finally:
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader
        for full in (NATIVE, PROTO):
            short = full.rpartition(".")[2]
            if full in sys.modules and not hasattr(module, short):
                setattr(module, short, sys.modules[full])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)
