"""nn-auditor: recount every layer of a model analytically and compare with what the framework says.

`audit(model)` takes a model object (PyTorch module, Keras model), a file path, `reference:NAME`
or `package.module:factory`, and returns an `Audit`.  Frameworks are imported only by the adapter
that needs them; the public names below are imported on first use, so importing `auditor` (as the
pytest plugin does in every test run) costs next to nothing.

Owns: the public API (`audit`, `to_ir`, the names re-exported below).  The core lives in the
subpackages and modules: `ir` (`pass_facts`), `errors`, `options` (`option_values`), `registry`, `rules`, `layer_check`,
`count` (`folded`), `reconcile`, `expect` (`table_values`), `outcome`, `align`, `explain`, `diff`, `checkpoint`, `memory`,
`report`; the front in `loader` (specs, `factory`), `batch`, `cli`, `testing`, `pytest_plugin`.
May import: anything; the core modules import only each other (never `adapters`, `reference_models`,
`auditor.loader` or this API), which `tests/test_import_graph.py` checks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Audit": "auditor.count",
    "Finding": "auditor.findings",
    "LayerCheck": "auditor.count",
    "Status": "auditor.count",
    "Totals": "auditor.count",
    "audit_ir": "auditor.count",
    "InputError": "auditor.errors",
    "AuditOptions": "auditor.options",
    "OptionError": "auditor.options",
    "Registry": "auditor.registry",
    "RegistryError": "auditor.registry",
    "RULES": "auditor.rules",
    "Layer": "auditor.ir",
    "ModelIR": "auditor.ir",
    "ParamTensor": "auditor.ir",
    "ParamCount": "auditor.rules",
    "Rule": "auditor.rules",
    "RuleError": "auditor.rules",
    "register": "auditor.rules",
}

if TYPE_CHECKING:
    from auditor.checkpoint import Comparison
    from auditor.count import Audit, LayerCheck, Status, Totals, audit_ir
    from auditor.errors import InputError
    from auditor.findings import Finding
    from auditor.ir import Layer, ModelIR, ParamTensor
    from auditor.options import AuditOptions, OptionError
    from auditor.registry import Registry, RegistryError
    from auditor.rules import RULES, ParamCount, Rule, RuleError, register


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'auditor' has no attribute {name!r}")


def to_ir(model: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate `model` (object, path or spec string) into the IR through the matching adapter.

    `values` are options by name (input_shape=(1, 3, 224, 224), example_inputs=, dtype= ...; see
    `AuditOptions`), parsed once here: an unknown name or a bad value is an `OptionError`.
    """
    from auditor import loader

    return loader.to_ir(model, options, **values)


def audit(model: Any, options: AuditOptions | None = None, *, rules: Registry[str, Rule] | None = None,
          **values: Any) -> Audit:
    """Audit `model` with `rules` (default: the global `RULES`; pass `RULES.copy()` with your own
    rules to leave the global one alone).  Options as for `to_ir`.

    memory="train" or "infer" adds the memory budget as `report.memory` (`auditor.memory`); batch=,
    seq=, precision=, optimizer=, checkpointing= and device= configure it (see `AuditOptions`).
    """
    from auditor.collector import collector_paused

    with collector_paused():  # the IR and its checks are acyclic: reference counting frees what dies
        return _audit(model, options, rules, values)


def _audit(model: Any, options: AuditOptions | None, rules: Registry[str, Rule] | None,
           values: dict[str, Any]) -> Audit:
    from auditor.count import audit_ir
    from auditor.options import resolve

    parsed = resolve(options, values)
    budget_options = parsed.memory_options()
    if budget_options is None:
        return audit_ir(to_ir(model, parsed), rules, parsed)
    from auditor.loader import default_input_shapes
    from auditor.memory import memory_budget
    from auditor.memory.shapes import memory_inputs

    parsed = memory_inputs(parsed, budget_options, default_input_shapes(model))
    report = audit_ir(to_ir(model, parsed), rules, parsed)
    report.memory = memory_budget(report.model, budget_options, rules)
    return report


def compare_checkpoint(architecture: Any, checkpoint: Any, **options: Any) -> Comparison:
    """Pair a checkpoint's tensors (a .safetensors / index / .gguf / state-dict path) with an architecture's
    (a config.json, a model object, or an Audit) by name; findings' amounts add up to the delta."""
    import dataclasses

    import adapters
    from auditor.checkpoint import compare
    from auditor.count import Audit

    arch = architecture if isinstance(architecture, Audit) else audit(architecture, **options)
    ckpt = checkpoint if isinstance(checkpoint, Audit) else audit(checkpoint)
    aligned = adapters.align_names(arch.model, ckpt.model)
    return compare(arch, ckpt if aligned is ckpt.model else dataclasses.replace(ckpt, model=aligned))


__all__ = [
    "Audit",
    "AuditOptions",
    "OptionError",
    "RULES",
    "Registry",
    "RegistryError",
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
    "compare_checkpoint",
    "register",
    "to_ir",
]
