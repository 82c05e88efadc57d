"""Apply the rules to a ModelIR: one check per layer (`auditor.layer_check`) and the model's totals.

Aggregation only: the math lives in the rules, the wording of the output in `report`.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING

from auditor.ir import DTYPE_BYTES, ModelIR, Shape, numel
from auditor.layer_check import LayerCheck, Status, check_layer, rule_failure, used_params
from auditor.options import AuditOptions
from auditor.records import record
from auditor.registry import Registry
from auditor.rules import RULES, reparam
from auditor.rules.base import Rule

if TYPE_CHECKING:  # the budget's modules load only when a budget is asked for; a finding's, on the first one
    from auditor.findings import Finding
    from auditor.memory.items import MemoryBudget

MAC_CONVENTION = (
    "MACs = multiply-accumulates of one forward pass (bias adds, activations, pooling, resizing and softmax "
    "excluded; normalisation: one per element); FLOPs = 2 x MACs"
)


@record(compiled_init=False)
class Totals:
    """Whole-model sums. `analytic` covers layers with a rule; `unverified` is what no rule covers."""

    reported: int = 0
    analytic: int = 0
    unverified: int = 0
    trainable: int = 0
    non_trainable: int = 0
    buffers: int = 0
    shared: int = 0
    active: int = 0
    """Parameters one token uses: `reported`, less the experts a mixture-of-experts block does not route to."""
    macs: int = 0
    macs_complete: bool = True
    macs_per_sample: bool = False
    shapes_known: bool = True
    """False when no layer has a shape (none given, or the forward pass did not run): MACs, FLOPs and
    activation memory are then unknown (reported as unknown / null, never as 0)."""
    param_bytes: int = 0
    activation_elements: int = 0
    activation_unknown_layers: int = 0
    """Layers (and inputs) whose output has a symbolic dim past the batch: their activations are not in
    `activation_elements`, which is then a lower bound."""
    layers: int = 0
    mismatches: int = 0
    unverified_layers: int = 0
    stored_elements: int = 0
    """Elements as stored, every tensor once (parameters, buffers, quantization state; packed tensors
    counted by their containers), as a checkpoint listing or `sum(t.numel())` over a state dict gives."""
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    """Parameter memory split by stored dtype (every tensor once)."""
    unattributed: int = 0
    """Elements of tensors the model consumes that no layer owns (`ModelIR.unattributed`)."""
    quantization: int = 0
    """Elements of quantization state (scales, zero points): not parameters, never dropped."""
    unused_layers: int = 0
    unknown_macs_layers: int = 0
    pruned: int = 0
    """Weights pruning masks zero out, of `masked` weights under a mask (where the masks' values are known)."""
    masked: int = 0
    adapter_params: int = 0
    """Parameters of parameter-efficient adapter layers (LoRA matrices): the rest is the base model."""

    @property
    def verified_fraction(self) -> float:
        """Share of all weight elements (parameters and unattributed tensors) that a rule confirmed.

        Unattributed tensors are in the denominator, so a model whose weights were not recognised
        can never read 100%.
        """
        held = self.reported + self.unattributed
        return 1.0 if held == 0 else (self.reported - self.unverified) / held


@record(compiled_init=False)
class Audit:
    """One model's audit: its IR, a check per layer, the totals and the model-level findings."""

    model: ModelIR
    checks: list[LayerCheck]
    totals: Totals
    findings: list[Finding] = field(default_factory=list)
    """Model-level findings (e.g. the framework's own total differs from the layer sum)."""
    convention: str = MAC_CONVENTION
    rules: Registry[str, Rule] = field(default=RULES, repr=False, compare=False)
    """The rules the layers were checked with (a diff explains with the same ones)."""
    options: AuditOptions = field(default_factory=AuditOptions, repr=False, compare=False)
    memory: MemoryBudget | None = None
    """The memory budget, when one was asked for (`audit(..., memory="train")`)."""

    @property
    def consistent(self) -> bool:
        return self.totals.mismatches == 0 and not self.findings

    @property
    def macs_missing(self) -> bool:
        """The MAC total is incomplete although it should not be: a pass stopped, or every input dim is
        concrete.  Symbolic dims (a batch included: a graph reshapes it into others), which --input-shape
        fixes, are not this."""
        if self.totals.macs_complete:
            return False
        if self.model.shapes_missing:
            return True
        shapes = self.model.input_shapes
        return bool(shapes) and all(isinstance(d, int) for s in shapes for d in s)


def batch_symbol(model: ModelIR) -> str | None:
    """The symbolic leading dim every model input shares ("batch", "N"), if there is one."""
    leading = {s[0] for s in model.input_shapes if s}
    if len(leading) == 1:
        (dim,) = leading
        return dim if isinstance(dim, str) else None
    return None


def audit_ir(model: ModelIR, rules: Registry[str, Rule] | None = None,
             options: AuditOptions | None = None) -> Audit:
    """Check every layer of `model` with `rules` (default: the global `RULES`) and add up the totals."""
    rules = RULES if rules is None else rules
    batch = batch_symbol(model)
    checks = [check_layer(layer, batch, rules) for layer in model.layers]
    totals = _totals(model, checks, rules)
    findings: list[Finding] = []
    if model.framework_total is not None and model.framework_total != totals.reported:
        from auditor.findings import Finding

        findings.append(
            Finding(
                "framework_total",
                f"{model.framework} reports {model.framework_total:,} parameters for the whole model "
                f"but its layers add up to {totals.reported:,}",
            )
        )
    return Audit(model, checks, totals, findings, rules=rules, options=options or AuditOptions())


def _totals(model: ModelIR, checks: list[LayerCheck], rules: Registry[str, Rule]) -> Totals:
    totals = Totals(layers=len(checks))
    for check in checks:
        layer = check.layer
        totals.reported += layer.reported_params
        totals.trainable += layer.reported_trainable
        totals.buffers += layer.reported_buffers
        totals.shared += layer.shared_params
        totals.active += layer.reported_params - _inactive(check)
        for p in layer.params:
            if p.shared_with is None:
                totals.param_bytes += p.nbytes
                totals.stored_elements += p.stored_numel
                totals.bytes_by_dtype[p.stored_dtype] = totals.bytes_by_dtype.get(p.stored_dtype, 0) + p.nbytes
        if check.analytic is None:
            totals.unverified += layer.reported_params
        else:  # a tied tensor is counted at its owner, as in `reported`
            totals.analytic += check.analytic - layer.shared_params
        if check.macs is None:
            totals.macs_complete = False
            totals.unknown_macs_layers += 1
        else:
            totals.macs += check.macs
            totals.macs_per_sample = totals.macs_per_sample or check.macs_per_sample
        activation = _activation_elements(check, rules)
        totals.activation_elements += activation or 0
        totals.activation_unknown_layers += activation is None
        totals.mismatches += check.status == Status.MISMATCH
        totals.unverified_layers += check.status == Status.UNVERIFIED
        totals.quantization += layer.reported_quantization
        _add_structures(totals, check)
    totals.non_trainable = totals.reported - totals.trainable
    totals.unattributed = sum(t.numel for t in model.unattributed)
    inputs = [known_sample_numel(s) for s in model.input_shapes]
    totals.activation_elements += sum(n or 0 for n in inputs)
    totals.activation_unknown_layers += sum(n is None for n in inputs)
    totals.shapes_known = any(c.layer.input_shapes or c.layer.output_shapes for c in checks) or (
        bool(model.input_shapes) and not checks)
    return totals


def _add_structures(totals: Totals, check: LayerCheck) -> None:
    """Unused layers, pruning masks and adapter parameters, summed over the model."""
    layer = check.layer
    totals.unused_layers += layer.called is False
    pruned, masked = reparam.pruning(layer) if check.analytic is not None else (0, 0)
    totals.pruned, totals.masked = totals.pruned + pruned, totals.masked + masked
    totals.adapter_params += layer.reported_params if layer.adapter else 0


def _inactive(check: LayerCheck) -> int:
    """Parameters of the layer one token does not use (experts it is not routed to)."""
    if check.analytic_active is None or check.analytic is None:
        return 0
    return check.analytic - check.analytic_active


def _activation_elements(check: LayerCheck, rules: Registry[str, Rule]) -> int | None:
    """Elements one sample's output allocates (0 without a shape); None when a dim past the batch is symbolic."""
    rule = rules.get(check.kind)
    if rule is not None and not rule.allocates_output:
        return 0
    shape = check.output_shape
    return known_sample_numel(shape) if shape is not None else 0


def known_sample_numel(shape: Shape) -> int | None:
    """Elements of one sample of `shape` (a symbolic leading dim is the batch); None if another dim is symbolic."""
    return numel(shape[1:] if shape and not isinstance(shape[0], int) else shape)


def bytes_per_element(model: ModelIR) -> int:
    """Bytes per activation element: the dtype of the model's first floating-point parameter, else float32.

    A quantized model's integer weights say nothing about its activations (dequantized to float).
    """
    for layer in model.layers:
        for p in layer.params:
            if not p.quant_state and p.dtype.startswith(("float", "bfloat")):
                return DTYPE_BYTES.get(p.dtype, 4)
    return 4


__all__ = [
    "MAC_CONVENTION", "Audit", "LayerCheck", "Status", "Totals", "audit_ir", "batch_symbol",
    "bytes_per_element", "check_layer", "known_sample_numel", "rule_failure", "used_params",
]
