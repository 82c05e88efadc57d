"""The seeds' networks in PyTorch and Keras, with the numbers their papers and seed documents publish.

`load_reference("NAME[@torch|@keras]")` builds one and translates it into the IR through its adapter
(`auditor.loader` calls it for `reference:NAME`).  Without a suffix the framework is the one the seed used:
Keras for `unet` and `resnet50-keras`, PyTorch for every other model.  Builders are imported only
when a model is built, so this module (and `audit --list-references`) needs neither framework.

Owns: the catalogue of references with their published totals and tables (`catalog`), the builders in both
frameworks (`torch_nets`, `keras_nets`), the shared architecture tables, and LeNet-1998's rules.
May import: the core (`auditor.ir`, `auditor.rules`, `auditor.options`, `auditor.errors`) and `adapters`;
never the API or `auditor.loader` (which import this).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any

from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve
from reference_models.catalog import REFERENCES, PublishedTotal, Reference

FRAMEWORKS = ("torch", "keras")
TABLES = os.path.join(os.path.dirname(__file__), "tables")


def list_references() -> list[Reference]:
    """Every bundled reference model, in the order of the seeds."""
    return list(REFERENCES.values())


def split_name(spec: str) -> tuple[str, str | None]:
    """"vgg16@keras" -> ("vgg16", "keras"); no suffix -> (name, None)."""
    name, _, framework = spec.strip().partition("@")
    return name, (framework or None)


def get_reference(name: str) -> Reference:
    """The reference called `name`; InputError listing the known names otherwise."""
    try:
        return REFERENCES[name]
    except KeyError:
        known = ", ".join(REFERENCES)
        raise InputError(f"unknown reference model {name!r}; known: {known}") from None


def published_table(name: str, which: str | None = None) -> str:
    """Path of a reference's published per-layer table (or of one of its `extra_tables`)."""
    ref = get_reference(name)
    tables = [t for t in (ref.table, *ref.extra_tables) if t]
    chosen = which or ref.table
    if chosen is None or chosen not in tables:
        listed = ", ".join(tables) or "none"
        raise InputError(f"reference {name!r} has no published table {chosen or ''!r}; it has: {listed}")
    return os.path.join(TABLES, chosen)


def build(name: str, framework: str | None = None, *, meta: bool | None = None, **builder_options: Any) -> Any:
    """Build reference `name` as a framework model object.

    meta=True allocates no weights (PyTorch's meta device; Keras variables left uninitialised), so the
    model can be audited but not run; the default is True for the big models (`Reference.meta_device`).
    """
    ref = get_reference(name)
    framework = _framework(ref, framework)
    builder = ref.builder(framework)
    if not (ref.meta_device if meta is None else meta):
        return builder(**builder_options)
    if framework == "torch":
        import torch

        with torch.device("meta"):
            return builder(**builder_options)
    from adapters.keras import deferred_variables

    with deferred_variables():
        return builder(**builder_options)


def _framework(ref: Reference, framework: str | None) -> str:
    chosen = framework or ref.default_framework
    if chosen not in FRAMEWORKS:
        raise InputError(f"reference:{ref.name}@{chosen}: unknown framework; use @torch or @keras")
    return chosen


def load_reference(spec: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Build `NAME[@torch|@keras]` and translate it into the IR (called for `reference:NAME`).

    `options.builder_options` (e.g. {"aux_logits": True}) go to the builder, the rest to the adapter.
    """
    options = resolve(options, values)
    name, framework = split_name(spec)
    ref = get_reference(name)
    framework = _framework(ref, framework or options.framework)
    builder_options = dict(options.builder_options)
    accepted = inspect.signature(ref.builder(framework)).parameters
    unknown = sorted(set(builder_options) - set(accepted))
    if unknown:
        raise InputError(f"reference:{name}@{framework}: its builder takes no {', '.join(unknown)} "
                         f"(it takes: {', '.join(accepted) or 'nothing'})")
    model = build(name, framework, **builder_options)
    if framework == "torch" and options.input_shapes is None and options.example_inputs is None:
        options = dataclasses.replace(options, input_shapes=(ref.input_shape,))
    from adapters import from_object

    ir = from_object(model, options)
    ir.name = name
    ir.source = f"reference:{name}@{framework}"
    return ir


__all__ = [
    "PublishedTotal",
    "REFERENCES",
    "Reference",
    "build",
    "get_reference",
    "list_references",
    "load_reference",
    "published_table",
    "split_name",
]
