"""Check one layer with its rule: what the framework reports next to what the rule recomputes.

A rule that raises (a RuleError, or any bug in a user's rule) leaves the layer unverified with the
reason, never a crash.  The math lives in the rules; aggregation over a model in `auditor.count`.
"""

from __future__ import annotations

import enum
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any

from auditor.ir import Layer, Shape
from auditor.records import record
from auditor.registry import Registry
from auditor.rules import RULES, RuleError, SymbolicShape, reparam
from auditor.rules.base import ParamCount, Rule

if TYPE_CHECKING:
    from auditor.findings import Finding


class Status(enum.StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"
    UNVERIFIED = "unverified"
    NO_PARAMS = "no-params"


@record
class LayerCheck:
    """What the framework says a layer owns and produces, next to what its rule recomputes."""

    layer: Layer
    status: Status
    analytic: int | None = None
    analytic_trainable: int | None = None
    formula: str | None = None
    analytic_buffers: int | None = None
    analytic_active: int | None = None
    """Parameters one token uses, when the rule says that is fewer than all (mixture of experts)."""
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


def _shapes_agree(reported: Shape, analytic: Shape) -> bool:
    """Equal rank and equal dims wherever both sides are known ints."""
    if reported == analytic:
        return True
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
        return _unused(LayerCheck(layer, Status.UNVERIFIED, note=f"no rule for kind {layer.kind!r} ({layer.source_type})"))
    try:
        return _unused(_check(layer, rule, batch))
    except RuleError as err:
        return _unused(LayerCheck(layer, Status.UNVERIFIED, note=str(err)))
    except _RuleBug as bug:
        return _unused(LayerCheck(layer, Status.UNVERIFIED, note=str(bug)))


UNUSED_NOTE = "unused: forward never called it (0 MACs)"


def _unused(check: LayerCheck) -> LayerCheck:
    """A layer a complete forward pass never called costs nothing: 0 MACs, which is exact, not unknown.
    A called layer whose operators are rows of their own adds nothing beyond them."""
    if check.macs is None and check.layer.called and check.layer.ops_recorded:
        check.macs = 0
    if check.layer.called is False:
        check.macs = 0
        check.note = f"{check.note}; {UNUSED_NOTE}" if check.note else UNUSED_NOTE
    return check


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
    counted = reparam.adjust(_call(rule, "count", layer), layer)
    check = LayerCheck(
        layer,
        Status.OK,
        analytic=counted.params,
        analytic_trainable=counted.trainable,
        formula=counted.formula,
        analytic_buffers=counted.buffers,
        analytic_active=counted.active,
    )
    _check_counts(check, counted)
    _check_shape(check, rule)
    check.macs, check.macs_per_sample = _macs(check, rule, batch)
    check.description, check.metrics = _extras(layer, rule)
    pruned, masked = reparam.pruning(layer)
    if masked:
        check.metrics = {**check.metrics, "pruned": pruned}
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
            _finding(
                "param_count",
                f"{layer.path}: the layer has {used:,} parameters but its "
                f"hyper-parameters give {counted.formula}",
            )
        )
    if counted.buffers != layer.reported_buffers:
        check.findings.append(
            _finding(
                "buffers",
                f"{layer.path}: the layer holds {layer.reported_buffers:,} buffer elements; "
                f"the rule expects {counted.buffers:,}",
            )
        )


def _finding(code: str, message: str) -> Finding:
    """A mismatch's finding; its class is imported on the first mismatch (see `auditor.findings`)."""
    from auditor.findings import Finding

    return Finding(code, message)


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
            _finding(
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


def _extras(layer: Layer, rule: Rule) -> tuple[str, dict[str, int]]:
    try:
        return _call(rule, "describe", layer), _call(rule, "metrics", layer)
    except RuleError:
        return "", {}
