"""Resolve what a user names into a ModelIR: a model file, a folder, `reference:NAME`,
`package.module:factory`, or an in-memory model object.

Owns: the spec syntax and the order it is tried in.  It sits above the adapters (which translate one
framework's model, `adapters.read_file` / `adapters.from_object`) and the reference models (which build
a bundled network), so neither of them needs to know about the other or about specs.
May import: `adapters`, `reference_models`, and the core (`auditor.errors`, `auditor.ir`, `auditor.options`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import adapters
from adapters.quiet import silenced_stderr
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

REFERENCE = "reference:"


def load(spec: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Read `spec` (a model file or folder, `reference:NAME`, or `package.module:factory`) into the IR."""
    parsed = resolve(options, values)
    if spec.startswith(REFERENCE):
        return _reference(spec.removeprefix(REFERENCE), parsed)
    if adapters.file_suffix(spec) in adapters.FILE_READERS:
        return adapters.read_file(spec, parsed)
    if os.path.isdir(spec):
        return _folder(spec, parsed)
    if ":" in spec and not os.path.exists(spec):
        return from_factory(spec, parsed)
    return adapters.read_file(spec, parsed)


def to_ir(model: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`model` as an IR: an IR as it is, a spec string or path through `load`, an object through its adapter."""
    parsed = resolve(options, values)
    if isinstance(model, ModelIR):
        return model
    if isinstance(model, str):
        return load(model, parsed)
    if isinstance(model, os.PathLike):
        return load(os.fspath(model), parsed)
    return adapters.from_object(model, parsed)


def default_input_shapes(model: Any) -> tuple[tuple[int, ...], ...] | None:
    """The input shapes a spec brings with it (a bundled `reference:NAME`'s), if any."""
    if not (isinstance(model, str) and model.startswith(REFERENCE)):
        return None
    try:
        from reference_models import get_reference, split_name
    except ImportError:
        return None
    return (tuple(get_reference(split_name(model.removeprefix(REFERENCE))[0]).input_shape),)


def _reference(name: str, options: AuditOptions) -> ModelIR:
    try:
        from reference_models import load_reference
    except ImportError as err:
        raise InputError(f"reference models are not available ({err})") from None
    with silenced_stderr(not options.debug):  # building one imports its framework
        return load_reference(name, options)


def _folder(folder: str, options: AuditOptions) -> ModelIR:
    """A Hugging Face model folder as one model: its config.json when it has one, else its checkpoint."""
    from adapters.hf_json import folder_files

    config, weights = folder_files(folder)
    if config is None and weights is None:
        raise InputError(f"{folder}: a folder with neither a config.json nor weight files")
    named = options if options.source else dataclasses.replace(options, source=folder)
    return load(config or weights or folder, named)


def from_factory(spec: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Import `package.module:factory` (or `path/to/file.py:factory`), call it (the user asked to run it)
    and translate the result; an attribute that is already a model is used as it is."""
    from auditor.factory import build_keras, call_factory, load_factory

    parsed = resolve(options, values)
    with silenced_stderr(not parsed.debug):
        factory, name = load_factory(spec)
        model = factory if adapters.framework_of(factory) else call_factory(spec, factory, name)
        if adapters.framework_of(model) == "keras" and model is not factory:
            build_keras(spec, model, parsed.input_shapes)
    named = dataclasses.replace(parsed, name=parsed.name or name, source=parsed.source or spec)
    return adapters.from_object(model, named)


__all__ = ["default_input_shapes", "from_factory", "load", "to_ir"]
