"""nn-auditor: recount every layer of a model analytically and compare with what the framework says.

`audit(model)` takes a model object (PyTorch module, Keras model), a file path, `reference:NAME`
or `package.module:factory`, and returns an `Audit`.  Frameworks are imported only by the adapter
that needs them; the public names below are imported on first use, so importing `auditor` (as the
pytest plugin does in every test run) costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Audit": "auditor.count",
    "Finding": "auditor.count",
    "LayerCheck": "auditor.count",
    "Status": "auditor.count",
    "Totals": "auditor.count",
    "audit_ir": "auditor.count",
    "InputError": "auditor.errors",
    "Layer": "auditor.ir",
    "ModelIR": "auditor.ir",
    "ParamTensor": "auditor.ir",
    "ParamCount": "auditor.rules",
    "Rule": "auditor.rules",
    "RuleError": "auditor.rules",
    "register": "auditor.rules",
}

if TYPE_CHECKING:
    from auditor.count import Audit, Finding, LayerCheck, Status, Totals, audit_ir
    from auditor.errors import InputError
    from auditor.ir import Layer, ModelIR, ParamTensor
    from auditor.rules import ParamCount, Rule, RuleError, register


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'auditor' has no attribute {name!r}")


def to_ir(model: Any, **options: Any) -> ModelIR:
    """Translate `model` (object, path or spec string) into the IR through the matching adapter."""
    import adapters
    from auditor.ir import ModelIR

    if isinstance(model, ModelIR):
        return model
    if isinstance(model, str):
        return adapters.load(model, **options)
    if hasattr(model, "__fspath__"):
        return adapters.load(str(model), **options)
    return adapters.from_object(model, **options)


def audit(model: Any, **options: Any) -> Audit:
    """Audit `model`: options such as input_shape=(1, 3, 224, 224), example_inputs=, dtype= go to the adapter."""
    from auditor.count import audit_ir

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
