"""Apply the rules to a ModelIR: one check per layer (reported vs analytic) and the model's totals.

Aggregation only: the math lives in the rules, the wording of the output in `report`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.ir import DTYPE_BYTES, Layer, ModelIR, Shape, numel
from auditor.options import AuditOptions
from auditor.registry import Registry
from auditor.rules import RULES, RuleError, SymbolicShape
from auditor.rules.base import ParamCount, Rule

MAC_CONVENTION = (
    "MACs = multiply-accumulates of one forward pass (bias adds, activations, pooling and softmax "
    "excluded; normalisation: one per element); FLOPs = 2 x MACs"
)


class Status(enum.StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    UNVERIFIED = "unverified"
    NO_PARAMS = "no-params"


@dataclass(frozen=True)
class Finding:
    """One explained (or unexplained) discrepancy, with a stable code and a sentence to act on."""

    code: str
    message: str
    amount: int | None = None
    """The elements this finding accounts for, signed (the other side minus this one); None if it counts none."""


@dataclass
class LayerCheck:
    """What the framework says a layer owns and produces, next to what its rule recomputes."""

    layer: Layer
    status: Status
    analytic: int | None = None
    analytic_trainable: int | None = None
    formula: str | None = None
    analytic_buffers: int | None = None
    analytic_output_shape: Shape | None = None
    macs: int | None = None
    findings: list[Finding] = field(default_factory=list)
    note: str | None = None
    """Why the layer is unverified, or what could not be recomputed."""
    metrics: dict[str, int] = field(default_factory=dict)
    """Extra figures from the rule (`Rule.metrics`), e.g. {"connections": 122304}."""
    macs_per_sample: bool = False
    """The MACs are for one sample because the batch dim is symbolic."""
    description: str = ""

    @property
    def path(self) -> str:
        return self.layer.path

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def reported(self) -> int:
        return self.layer.reported_params

    @property
    def output_shape(self) -> Shape | None:
        return self.layer.output_shapes[0] if self.layer.output_shapes else self.analytic_output_shape


@dataclass
class Totals:
    """Whole-model sums. `analytic` covers layers with a rule; `unverified` is what no rule covers."""

    reported: int = 0
    analytic: int = 0
    unverified: int = 0
    trainable: int = 0
    non_trainable: int = 0
    buffers: int = 0
    shared: int = 0
    macs: int = 0
    macs_complete: bool = True
    macs_per_sample: bool = False
    param_bytes: int = 0
    activation_elements: int = 0
    layers: int = 0
    mismatches: int = 0
    unverified_layers: int = 0
    stored_elements: int = 0
    """Elements as stored, every tensor once (parameters, buffers, quantization state; packed tensors
    counted by their containers), as a checkpoint listing or `sum(t.numel())` over a state dict gives."""
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    """Parameter memory split by stored dtype (every tensor once)."""

    @property
    def verified_fraction(self) -> float:
        """Share of the reported parameters that sit in layers whose count a rule confirmed."""
        return 1.0 if self.reported == 0 else (self.reported - self.unverified) / self.reported


@dataclass
class Audit:
    model: ModelIR
    checks: list[LayerCheck]
    totals: Totals
    findings: list[Finding] = field(default_factory=list)
    """Model-level findings (e.g. the framework's own total differs from the layer sum)."""
    convention: str = MAC_CONVENTION
    rules: Registry[str, Rule] = field(default=RULES, repr=False, compare=False)
    """The rules the layers were checked with (a diff explains with the same ones)."""
    options: AuditOptions = field(default_factory=AuditOptions, repr=False, compare=False)

    @property
    def consistent(self) -> bool:
        return self.totals.mismatches == 0 and not self.findings


def _shapes_agree(reported: Shape, analytic: Shape) -> bool:
    """Equal rank and equal dims wherever both sides are known ints."""
    if len(reported) != len(analytic):
        return False
    return all(not (isinstance(r, int) and isinstance(a, int)) or r == a for r, a in zip(reported, analytic))


def _shape_text(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def rule_failure(rule: Rule, method: str, err: Exception) -> str:
    """Why a rule that raised something other than a RuleError (a bug in it) verified nothing."""
    text = " ".join(str(err).split())
    return f"rule {type(rule).__name__}.{method} raised {type(err).__name__}" + (f": {text}" if text else "")


def check_layer(layer: Layer, batch: str | None = None, rules: Registry[str, Rule] = RULES) -> LayerCheck:
    """Recompute one layer with its rule and compare with what the framework reported.

    `batch` names the model's symbolic batch dim: MACs that need it are then counted per sample.
    A rule that raises (a RuleError, or any bug in a user's rule) leaves the layer unverified with the reason.
    """
    rule = rules.get(layer.kind)
    if rule is None:
        return LayerCheck(layer, Status.UNVERIFIED, note=f"no rule for kind {layer.kind!r} ({layer.source_type})")
    try:
        return _check(layer, rule, batch)
    except RuleError as err:
        return LayerCheck(layer, Status.UNVERIFIED, note=str(err))
    except _RuleBug as bug:
        return LayerCheck(layer, Status.UNVERIFIED, note=str(bug))


class _RuleBug(Exception):
    """A rule method raised something other than a RuleError; the message says which and what."""


def _call(rule: Rule, method: str, layer: Layer) -> Any:
    try:
        return getattr(rule, method)(layer)
    except RuleError:
        raise
    except Exception as err:  # noqa: BLE001 - a user's rule may raise anything; the audit goes on
        raise _RuleBug(rule_failure(rule, method, err)) from None


def _check(layer: Layer, rule: Rule, batch: str | None) -> LayerCheck:
    counted = _call(rule, "count", layer)
    check = LayerCheck(
        layer,
        Status.OK,
        analytic=counted.params,
        analytic_trainable=counted.trainable,
        formula=counted.formula,
        analytic_buffers=counted.buffers,
    )
    _check_counts(check, counted)
    _check_shape(check, rule)
    check.macs, check.macs_per_sample = _macs(check, rule, batch)
    check.description, check.metrics = _extras(layer, rule)
    if check.findings:
        check.status = Status.MISMATCH
    elif layer.inferred:
        _mark_inferred(check)
    elif counted.params == 0 and used_params(layer) == 0 and counted.buffers == 0:
        check.status = Status.NO_PARAMS
    return check


def _mark_inferred(check: LayerCheck) -> None:
    """A layer whose kind and attrs were inferred from its tensors: consistent, but not confirmed.

    The rule still recounts it (a bias that does not fit the weight is a mismatch), but a count
    that agrees proves only that the tensors fit together, so the layer stays unverified.
    """
    check.status = Status.UNVERIFIED
    check.analytic = check.analytic_trainable = check.analytic_buffers = None
    check.note = f"{check.layer.inferred}: its tensors fit together, its hyper-parameters are unconfirmed"


def used_params(layer: Layer) -> int:
    return layer.reported_params + layer.shared_params


def _check_counts(check: LayerCheck, counted: ParamCount) -> None:
    """Compare with everything the layer uses, tied tensors included (they are counted at their owner)."""
    layer = check.layer
    used = used_params(layer)
    if counted.params != used:
        check.findings.append(
            Finding(
                "param_count",
                f"{layer.path}: the layer has {used:,} parameters but its "
                f"hyper-parameters give {counted.formula}",
            )
        )
    if counted.buffers != layer.reported_buffers:
        check.findings.append(
            Finding(
                "buffers",
                f"{layer.path}: the layer holds {layer.reported_buffers:,} buffer elements; "
                f"the rule expects {counted.buffers:,}",
            )
        )


def _check_shape(check: LayerCheck, rule: Rule) -> None:
    layer = check.layer
    try:
        shapes = _call(rule, "output_shapes", layer)
    except SymbolicShape:
        return
    except RuleError as err:
        check.note = f"output shape not recomputed: {err}"
        return
    if not shapes:
        return
    check.analytic_output_shape = shapes[0]
    if layer.output_shapes and not _shapes_agree(layer.output_shapes[0], shapes[0]):
        check.findings.append(
            Finding(
                "output_shape",
                f"{layer.path}: the framework says the output is {_shape_text(layer.output_shapes[0])} "
                f"but the hyper-parameters give {_shape_text(shapes[0])}",
            )
        )


def _macs(check: LayerCheck, rule: Rule, batch: str | None) -> tuple[int | None, bool]:
    """(MACs, counted per sample): a symbolic batch dim is taken as 1 when that is all that is missing."""
    try:
        return _call(rule, "macs", check.layer), False
    except SymbolicShape:
        if batch is None:
            return None, False
    except RuleError:
        return None, False
    try:
        return _call(rule, "macs", _one_sample(check.layer, batch)), True
    except RuleError:
        return None, False


def _one_sample(layer: Layer, batch: str) -> Layer:
    def fix(shape: Shape) -> Shape:
        return tuple(1 if d == batch else d for d in shape)

    return replace(layer, input_shapes=[fix(s) for s in layer.input_shapes],
                   output_shapes=[fix(s) for s in layer.output_shapes])


def batch_symbol(model: ModelIR) -> str | None:
    """The symbolic leading dim every model input shares ("batch", "N"), if there is one."""
    leading = {s[0] for s in model.input_shapes if s}
    if len(leading) == 1:
        (dim,) = leading
        return dim if isinstance(dim, str) else None
    return None


def _extras(layer: Layer, rule: Rule) -> tuple[str, dict[str, int]]:
    try:
        return _call(rule, "describe", layer), _call(rule, "metrics", layer)
    except RuleError:
        return "", {}


def audit_ir(model: ModelIR, rules: Registry[str, Rule] | None = None,
             options: AuditOptions | None = None) -> Audit:
    """Check every layer of `model` with `rules` (default: the global `RULES`) and add up the totals."""
    rules = RULES if rules is None else rules
    batch = batch_symbol(model)
    checks = [check_layer(layer, batch, rules) for layer in model.layers]
    totals = _totals(model, checks, rules)
    findings = []
    if model.framework_total is not None and model.framework_total != totals.reported:
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
        else:
            totals.macs += check.macs
            totals.macs_per_sample = totals.macs_per_sample or check.macs_per_sample
        totals.activation_elements += _activation_elements(check, rules)
        totals.mismatches += check.status == Status.MISMATCH
        totals.unverified_layers += check.status == Status.UNVERIFIED
    totals.non_trainable = totals.reported - totals.trainable
    totals.activation_elements += sum(sample_numel(s) for s in model.input_shapes)
    return totals


def _activation_elements(check: LayerCheck, rules: Registry[str, Rule]) -> int:
    rule = rules.get(check.kind)
    if rule is not None and not rule.allocates_output:
        return 0
    shape = check.output_shape
    return sample_numel(shape) if shape is not None else 0


def sample_numel(shape: Shape) -> int:
    """Elements of `shape`; a symbolic leading (batch) dim counts as one sample, other symbolic dims as 0."""
    if shape and not isinstance(shape[0], int):
        shape = shape[1:]
    return numel(shape) or 0


def bytes_per_element(model: ModelIR) -> int:
    """Bytes per activation element: the dtype of the model's first parameter, else float32."""
    for layer in model.layers:
        for p in layer.params:
            return DTYPE_BYTES.get(p.dtype, 4)
    return 4


@dataclass
class FoldedRow:
    """Several checks summed under one path prefix (`audit --depth N`)."""

    path: str
    checks: list[LayerCheck]

    @property
    def reported(self) -> int:
        return sum(c.reported for c in self.checks)

    @property
    def analytic(self) -> int | None:
        values = [c.analytic for c in self.checks]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def macs(self) -> int | None:
        values = [c.macs for c in self.checks]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        for worst in (Status.MISMATCH, Status.UNVERIFIED, Status.OK):
            if worst in statuses:
                return worst
        return Status.NO_PARAMS

    @property
    def kind(self) -> str:
        kinds = {c.kind for c in self.checks}
        return kinds.pop() if len(kinds) == 1 else f"{len(self.checks)} layers"


def fold_checks(audit: Audit, depth: int) -> list[FoldedRow]:
    """Group consecutive checks by their first `depth` path components (0 = one row per layer)."""
    rows: list[FoldedRow] = []
    sep = audit.model.path_separator
    for check in audit.checks:
        prefix = check.path if depth <= 0 else sep.join(check.path.split(sep)[:depth])
        if rows and rows[-1].path == prefix and depth > 0:
            rows[-1].checks.append(check)
        else:
            rows.append(FoldedRow(prefix, [check]))
    return rows
