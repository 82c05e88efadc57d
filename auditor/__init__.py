"""nn-auditor: recount every layer of a model analytically and compare with what the framework says.

`audit(model)` takes a model object (PyTorch module, Keras model), a file path, `reference:NAME`
or `package.module:factory`, and returns an `Audit`.  Frameworks are imported only by the adapter
that needs them.
"""

from __future__ import annotations

from typing import Any

from auditor.count import Audit, Finding, LayerCheck, Status, Totals, audit_ir
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.rules import ParamCount, Rule, RuleError, register

__version__ = "0.1.0"


def to_ir(model: Any, **options: Any) -> ModelIR:
    """Translate `model` (object, path or spec string) into the IR through the matching adapter."""
    import adapters

    if isinstance(model, ModelIR):
        return model
    if isinstance(model, str):
        return adapters.load(model, **options)
    if hasattr(model, "__fspath__"):
        return adapters.load(str(model), **options)
    return adapters.from_object(model, **options)


def audit(model: Any, **options: Any) -> Audit:
    """Audit `model`: options such as input_shape=(1, 3, 224, 224), example_inputs=, dtype= go to the adapter."""
    return audit_ir(to_ir(model, **options))


__all__ = [
    "Audit",
    "Finding",
    "InputError",
    "Layer",
    "LayerCheck",
    "ModelIR",
    "ParamCount",
    "ParamTensor",
    "Rule",
    "RuleError",
    "Status",
    "Totals",
    "audit",
    "audit_ir",
    "register",
    "to_ir",
]
