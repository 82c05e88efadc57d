"""The two parts of the `onnx` package an ONNX read uses, loaded without running `onnx/__init__.py`: its
protobuf classes (`onnx.onnx_ml_pb2`) and its C++ library (`onnx.onnx_cpp2py_export`: shape inference,
operator schemas).

`onnx/__init__.py` imports numpy, ml_dtypes and most of the package (helper, compose, the reference
evaluator's tables): about 0.1 s of the 0.23 s that `audit bert.onnx` took as a process, for code the read
never calls.  The two modules are put in `sys.modules` under their own names, exactly where `import onnx`
would put them, so a later `import onnx` (the user's, or a rare path here: the function inliner, numpy's
conversion of an unusual tensor) finds and keeps them: one set of proto classes, one C++ library per process.
When onnx is imported already, or its files are not where this expects them, plain `import onnx` is used.
One difference remains after such a later import: the package does not hold the two as attributes
(`onnx.onnx_ml_pb2`), which the import system sets only when it loads a submodule itself; every import
statement naming them works, and no code in onnx, onnxruntime, onnxscript or torch.onnx reads the attributes.
"""

from __future__ import annotations

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
    loaded = sys.modules.get(NATIVE), sys.modules.get(PROTO)
    if loaded[0] is not None and loaded[1] is not None:
        return loaded[0], loaded[1]
    with _loading:
        if "onnx" not in sys.modules:
            try:
                return _load_alone()
            except Exception:  # noqa: BLE001 - another layout of the package: import it as usual below
                pass
        import onnx  # noqa: F401 - registers both modules

        return sys.modules[NATIVE], sys.modules[PROTO]


def _load_alone() -> tuple[ModuleType, ModuleType]:
    """Both modules from the onnx package's folder, found without importing the package."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'onnx'", name="onnx")
    folder = list(spec.submodule_search_locations)[0]
    library = sys.modules.get(NATIVE) or _load(NATIVE, _extension_path(folder), importlib.machinery.ExtensionFileLoader)
    if not getattr(library, "ONNX_ML", False):  # a build without the ML ops names its classes onnx_pb2
        raise ImportError("onnx was built without ONNX_ML")
    classes = sys.modules.get(PROTO) or _load(PROTO, os.path.join(folder, "onnx_ml_pb2.py"),
                                              importlib.machinery.SourceFileLoader)
    return library, classes


def _extension_path(folder: str) -> str:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "onnx_cpp2py_export" + suffix)
        if os.path.isfile(path):
            return path
    raise ImportError(f"no onnx_cpp2py_export extension in {folder}")


def _load(name: str, path: str, loader_class: Any) -> ModuleType:
    """Load the module at `path` as `name` into `sys.modules`, as the import system would (nothing on failure)."""
    if not os.path.isfile(path):
        raise ImportError(f"no {path}")
    loader = loader_class(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
