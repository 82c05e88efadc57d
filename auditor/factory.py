"""Find the callable a `module:attr` or `path/to/file.py:attr` spec names (the user asked to run it);
part of `auditor.loader`, which resolves specs.

As `python -m` and uvicorn do, the current folder is importable (`audit mymodels:build` next to
mymodels.py works without PYTHONPATH), and a file's own folder is put on the path before it is
imported, so its sibling imports work.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from auditor.errors import InputError


def split_spec(spec: str) -> tuple[str, str]:
    """"pkg.mod:build" -> ("pkg.mod", "build"); the attribute may be dotted ("mod:Zoo.small")."""
    module, _, attr = spec.rpartition(":")
    if not module or not attr:
        raise InputError(f"{spec}: expected package.module:factory or path/to/file.py:factory")
    return module, attr


def is_file_spec(module: str) -> bool:
    """`./mymodels.py`, `path/to/file.py`: a file to import, not a dotted module name."""
    return module.endswith(".py") or os.sep in module or "/" in module


def _on_path(folder: str) -> None:
    folder = os.path.abspath(folder)
    if folder not in (os.path.abspath(p or os.curdir) for p in sys.path):
        sys.path.insert(0, folder)


def _import_file(spec: str, path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise InputError(f"{spec}: no such file {path}")
    path = os.path.abspath(path)
    _on_path(os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == path:
        return loaded
    if loaded is not None or not name.isidentifier():
        name = f"_nn_auditor_factory_{abs(hash(path))}"
    found = importlib.util.spec_from_file_location(name, path)
    if found is None or found.loader is None:
        raise InputError(f"{spec}: {path} is not an importable Python file")
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    try:
        found.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import(spec: str, module_name: str) -> ModuleType:
    if is_file_spec(module_name):
        return _import_file(spec, module_name)
    _on_path(os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise InputError(f"{spec}: no module named {err.name!r} (looked in the current folder and sys.path)") from None
        raise


def load_factory(spec: str) -> tuple[Any, str]:
    """(the object `spec` names, its attribute name); InputError naming what failed, in one line."""
    module_name, attr = split_spec(spec)
    try:
        module = _import(spec, module_name)
    except InputError:
        raise
    except Exception as err:  # the user's module raised while importing: say so, in one line
        raise InputError(f"{spec}: importing {module_name} raised {_one_line(err)}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InputError(f"{spec}: {module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    return target, attr.split(".")[-1]


def call_factory(spec: str, factory: Any, name: str) -> Any:
    """The model the factory returns; InputError naming the factory and its error when it raises."""
    if not callable(factory):
        raise InputError(f"{spec}: {name} is a {type(factory).__name__}, not a model or a function returning one")
    try:
        return factory()
    except Exception as err:
        raise InputError(f"{spec}: {name}() raised {_one_line(err)}") from None


def build_keras(spec: str, model: Any, input_shapes: tuple[tuple[int, ...], ...] | None) -> None:
    """A Keras model the factory returned unbuilt is built with the --input-shape given (Keras builds on first
    call otherwise); the model is the one this audit just made, not an object of the user's."""
    if getattr(model, "built", True) or not input_shapes:
        return
    shapes = [tuple(s) for s in input_shapes]
    try:
        model.build(shapes[0] if len(shapes) == 1 else shapes)
    except Exception as err:
        shown = ";".join("x".join(map(str, s)) for s in shapes)
        raise InputError(f"{spec}: building the Keras model for input shape {shown} raised {_one_line(err)}") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 240 else text[:237] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
