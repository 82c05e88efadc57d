"""Turn a count difference into findings a person can act on.

One mechanism: copy the layer, change one (or the stated set of) perturbable attributes, recount
the copy with the SAME rule the counter uses, and keep each change that reproduces the other side's
number exactly.  Values the other side states (a table's kernel column, the other model's attrs) are
tried first and, when they reproduce the number, are the only explanation kept.  Layer-pattern
conventions (BatchNorm folded by an exporter, tied weights) live in `auditor.diff`, which sees rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from auditor.count import Finding
from auditor.ir import Layer
from auditor.rules import ParamCount, fmt, get_rule

MAX_EXPLANATIONS = 3
"""At most this many alternative single changes are reported for one difference."""

SEARCH_LIMIT = 1 << 26
"""Upper bound for searched integer attributes (channels, features, hidden sizes)."""

CODES: dict[str, str] = {
    "kernel_size": "kernel_size",
    "use_bias": "bias",
    "out_bias": "bias",
    "in_channels": "in_channels",
    "out_channels": "out_channels",
    "groups": "groups",
    "in_features": "in_channels",
    "out_features": "out_channels",
    "num_features": "out_channels",
    "stats": "bn_convention",
    "bias_vectors": "rnn_bias_convention",
}
"""Perturbed attribute -> stable finding code; other attributes use their own name as the code."""

COLUMN_ATTRS: dict[str, dict[str, str]] = {
    "conv": {
        "in_channels": "in_channels", "out_channels": "out_channels", "kernel_size": "kernel_size",
        "groups": "groups", "use_bias": "use_bias", "stride": "stride",
    },
    "dense": {"in_channels": "in_features", "out_channels": "out_features", "use_bias": "use_bias"},
    "batch_norm": {"out_channels": "num_features", "in_channels": "num_features"},
    "instance_norm": {"out_channels": "num_features", "in_channels": "num_features"},
    "group_norm": {"out_channels": "num_channels", "in_channels": "num_channels"},
    "rnn": {"in_channels": "input_size", "out_channels": "hidden_size"},
    "embedding": {"out_channels": "embedding_dim"},
}
"""Expectation-table column -> the canonical attribute it states, per layer kind."""
COLUMN_ATTRS["conv_transpose"] = COLUMN_ATTRS["conv"]
COLUMN_ATTRS["separable_conv"] = {k: v for k, v in COLUMN_ATTRS["conv"].items() if k != "groups"}

_TUPLE_RANGE = range(1, 16)
_SMALL_INTS = {"bias_vectors": (0, 1, 2), "num_layers": tuple(range(1, 9))}
_CHOICES = {"stats": ("params", "buffers", "none")}


@dataclass(frozen=True)
class Wording:
    """How to speak about the two sides of one row."""

    subject: str
    """Printed first: "conv2d_10 (your conv2d_11)" or "features.3 / conv2"."""
    other_says: str
    """"your table expects" / "right (model.onnx) has"."""
    this_has: str
    """"the layer has" / "left (model.keras) has"."""
    this: str = "the model"
    other: str = "your table"
    table: bool = True

    def contrast(self, mine: str, theirs: str) -> str:
        """"2x2, not 3x3" against a table; "2x2 in left, 3x3 in right" between models."""
        if self.table:
            return f"{mine}, not {theirs}"
        return f"{mine} in {self.this}, {theirs} in {self.other}"


@dataclass(frozen=True)
class Perturbation:
    """Attribute changes that make the rule reproduce the other side's count."""

    changes: dict[str, Any]
    count: ParamCount
    confirmed: bool
    """The new values are what the other side states, not a guess."""


def count_text(count: ParamCount) -> str:
    """"2,097,664 = (2*2*1024+1)*512": the number first, then how the rule gets it."""
    marker = f" = {fmt(count.params)}"
    at = count.formula.find(marker)
    if at < 0:
        return count.formula
    return f"{fmt(count.params)} = {count.formula[:at]}{count.formula[at + len(marker):]}"


def rule_count(layer: Layer) -> ParamCount | None:
    """The rule's count of `layer`, or None when it cannot be recomputed."""
    rule = get_rule(layer.kind)
    if rule is None:
        return None
    try:
        return rule.count(layer)
    except Exception:  # noqa: BLE001 - a RuleError, or a bug in a user's rule: not recountable
        return None


def count_with(layer: Layer, changes: dict[str, Any]) -> ParamCount | None:
    """Recount a copy of `layer` with `changes` applied to its attrs (shapes dropped if they now clash)."""
    rule = get_rule(layer.kind)
    if rule is None:
        return None
    trial = dataclasses.replace(layer, attrs={**layer.attrs, **changes})
    try:
        return rule.count(trial)
    except Exception:  # noqa: BLE001 - retried below without the shapes that may now clash
        pass
    try:
        return rule.count(dataclasses.replace(trial, input_shapes=[], output_shapes=[]))
    except Exception:  # noqa: BLE001 - a RuleError, or a bug in a user's rule
        return None


def same_value(mine: Any, stated: Any) -> bool:
    """Equal, where a single stated size ("3") equals a square tuple ((3, 3))."""
    if isinstance(mine, (tuple, list)) and isinstance(stated, (tuple, list)):
        mine, stated = tuple(mine), tuple(stated)
        if len(stated) == 1 and len(mine) > 1:
            return all(m == stated[0] for m in mine)
        return mine == stated
    if isinstance(mine, bool) or isinstance(stated, bool):
        return bool(mine) == bool(stated)
    return bool(mine == stated)


def expand(mine: Any, stated: Any) -> Any:
    """A stated value in the layer's own form: "3" for a 2-D kernel becomes (3, 3)."""
    if isinstance(mine, (tuple, list)) and isinstance(stated, (tuple, list)) and len(stated) == 1:
        return tuple(stated) * len(mine)
    return stated


def stated_attrs(layer: Layer, hyper: dict[str, Any]) -> dict[str, Any]:
    """A table row's hyper-parameter columns as this layer's canonical attributes."""
    mapping = COLUMN_ATTRS.get(layer.kind, {})
    out = {}
    for column, value in hyper.items():
        attr = mapping.get(column)
        if attr is not None and attr in layer.attrs:
            out[attr] = expand(layer.attrs[attr], value)
    return out


def _integer_search(layer: Layer, attr: str, target: int, step: int) -> list[int]:
    """Values v (multiples of step) with count(v) == target; counts grow with these attributes."""

    def params(units: int) -> int | None:
        counted = count_with(layer, {attr: units * step})
        return None if counted is None else counted.params

    low, high = 1, 1
    while True:
        value = params(high)
        if value is None or high * step > SEARCH_LIMIT:
            return []
        if value >= target:
            break
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        value = params(middle)
        if value is None:
            return []
        if value < target:
            low = middle + 1
        else:
            high = middle
    return [low * step] if params(low) == target else []


def _candidates(layer: Layer, attr: str, target: int) -> Iterable[Any]:
    """Values worth trying for `attr` when the other side does not state it."""
    current = layer.attrs.get(attr)
    if attr in _CHOICES:
        return [c for c in _CHOICES[attr] if c != current]
    if attr in _SMALL_INTS:
        return [c for c in _SMALL_INTS[attr] if c != current]
    if isinstance(current, bool):
        return [not current]
    if isinstance(current, (tuple, list)) and current and all(isinstance(c, int) for c in current):
        return [(k,) * len(current) for k in _TUPLE_RANGE if (k,) * len(current) != tuple(current)]
    if attr == "groups":
        channels = math.gcd(int(layer.attrs.get("in_channels", 1)), int(layer.attrs.get("out_channels", 1)))
        return [g for g in range(1, channels + 1) if channels % g == 0 and g != current]
    if isinstance(current, int):
        step = int(layer.attrs.get("groups", 1)) if attr in ("in_channels", "out_channels") else 1
        return [v for v in _integer_search(layer, attr, target, max(step, 1)) if v != current]
    return []


def _with_flatten_guess(layer: Layer, changes: dict[str, Any]) -> dict[str, Any]:
    """Add a guessed flattened_from for a new in_features, only so the formula reads 16*6*6."""
    source = layer.attrs.get("flattened_from")
    value = changes.get("in_features")
    if not source or not isinstance(value, int) or len(source) != 3 or "flattened_from" in changes:
        return changes
    for channel_axis in (0, -1):
        channels = source[channel_axis]
        side = math.isqrt(value // channels) if value % channels == 0 else 0
        if side and side * side * channels == value:
            guess = (channels, side, side) if channel_axis == 0 else (side, side, channels)
            return {**changes, "flattened_from": guess}
    return changes


def perturbations(layer: Layer, target: int, known: dict[str, Any]) -> list[Perturbation]:
    """Every change found that reproduces `target`; stated values first, and alone when they work."""
    rule = get_rule(layer.kind)
    if rule is None:
        return []
    differing = {a: v for a, v in known.items() if a in layer.attrs and not same_value(layer.attrs[a], v)}
    if len(differing) > 1:
        joint = count_with(layer, _with_flatten_guess(layer, differing))
        if joint is not None and joint.params == target:
            return [Perturbation(differing, joint, True)]
    found: list[Perturbation] = []
    for attr in rule.perturbable:
        if attr not in layer.attrs:
            continue
        confirmed = attr in known
        if confirmed and attr not in differing:
            continue
        values = [differing[attr]] if confirmed else _candidates(layer, attr, target)
        for value in values:
            changes = _with_flatten_guess(layer, {attr: value})
            counted = count_with(layer, changes)
            if counted is not None and counted.params == target:
                found.append(Perturbation({attr: value}, counted, confirmed))
    for tier in (0, 1, 2):
        kept = [p for p in found if _tier(layer, p) == tier]
        if kept:
            return kept[:MAX_EXPLANATIONS]
    return []


def _tier(layer: Layer, p: Perturbation) -> int:
    """0: the other side states it; 1: a switch or a window size; 2: a searched count (channels, groups)."""
    if p.confirmed:
        return 0
    (attr,) = p.changes
    current = layer.attrs.get(attr)
    discrete = attr in _CHOICES or attr in _SMALL_INTS or isinstance(current, (bool, tuple, list))
    return 1 if discrete else 2


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return str(value)


def _reason(layer: Layer, attr: str, old: Any, new: Any, delta: int, words: Wording, after_flatten: bool) -> str:
    """Why the numbers differ, in words, for one changed attribute."""
    c = words.contrast
    if attr == "kernel_size":
        return f"its kernel is {c(show(old), show(new))}"
    if attr in ("use_bias", "out_bias"):
        if old and not new:
            if words.table:
                return f"the layer has a bias (+{fmt(abs(delta))}) that your table leaves out: it counts weights only"
            return f"{words.this} has a bias (+{fmt(abs(delta))}), {words.other} has none"
        if words.table:
            return f"your table counts a bias (+{fmt(abs(delta))}) the layer does not have"
        return f"{words.this} has no bias, {words.other} has one (+{fmt(abs(delta))})"
    if attr == "groups":
        return (
            f"it is a grouped conv with groups={c(str(old), str(new))}: with groups=g each filter sees only "
            f"in_channels/g inputs (the two-tower split)"
        )
    if attr == "in_channels":
        return f"its input has {c(str(old), str(new))} channels (a concatenation's channels counted or forgotten?)"
    if attr in ("out_channels", "out_features"):
        return f"it has {c(str(old), str(new))} outputs"
    if attr == "in_features":
        return _dense_input_reason(layer, old, new, words, after_flatten)
    if attr == "stats":
        return _bn_reason(old, new, words)
    if attr == "bias_vectors":
        return (
            f"bias vectors per gate: {c(str(old), str(new))}; PyTorch keeps two (b_ih and b_hh), Keras one (two "
            f"for a GRU with reset_after=True): a counting convention, not a different layer"
        )
    return f"its {attr} is {c(show(old), show(new))}"


def _dense_input_reason(layer: Layer, old: Any, new: Any, words: Wording, after_flatten: bool) -> str:
    source = layer.attrs.get("flattened_from")
    guess = _with_flatten_guess(layer, {"in_features": new}).get("flattened_from")
    mine = f"{old} = {show(source).replace('x', '*')} features" if source else f"{old} features"
    theirs = f"{new} = {show(guess).replace('x', '*')}" if guess else str(new)
    text = f"its input has {words.contrast(mine, theirs)}"
    if after_flatten or source:
        text += ": the flatten size comes from a different spatial size before the flatten"
        if source and guess:
            text += f" (a {words.contrast(show(_spatial(source)), show(_spatial(guess)))} map)"
    return text


def _spatial(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The spatial part of a 3-D (C, H, W) or (H, W, C) flatten source, guessing the channel axis."""
    return shape[1:] if shape[1] == shape[2] else shape[:2]


def _bn_reason(old: Any, new: Any, words: Wording) -> str:
    def kind(stats: Any) -> str:
        if stats == "params":
            return "counts the moving mean and variance as non-trainable parameters (Keras: 4*C)"
        if stats == "buffers":
            return "keeps the running mean and variance as buffers (PyTorch: 2*C parameters + 2*C buffers)"
        return "has no running statistics"

    return f"{words.this} {kind(old)}, {words.other} {kind(new)}: the same layer under two counting conventions"


def code_of(layer: Layer, attr: str, after_flatten: bool) -> str:
    """The stable finding code for a change of `attr` on `layer`."""
    if attr == "in_features" and (after_flatten or layer.attrs.get("flattened_from")):
        return "dense_input"
    return CODES.get(attr, attr)


@dataclass(frozen=True)
class Explanation:
    """The findings for one count difference, and the other side's count as the first change gives it."""

    findings: list[Finding]
    other_count: ParamCount | None = None

    @property
    def explained(self) -> bool:
        return self.other_count is not None


def explain_count(
    layer: Layer, actual: int, target: int, known: dict[str, Any], words: Wording, after_flatten: bool = False
) -> Explanation:
    """Findings for a layer that has `actual` parameters where the other side says `target`."""
    mine = rule_count(layer)
    if mine is None or mine.params != actual:
        return Explanation([unexplained(layer, actual, target, mine, words)])
    found = perturbations(layer, target, known)
    if not found:
        return Explanation([unexplained(layer, actual, target, mine, words)])
    findings = []
    for p in found:
        head = f"{words.subject}: {words.other_says} {count_text(p.count)} but {words.this_has} {count_text(mine)}"
        reasons = [
            _reason(layer, a, layer.attrs.get(a), v, target - actual, words, after_flatten) for a, v in p.changes.items()
        ]
        for attr in p.changes:
            findings.append(Finding(code_of(layer, attr, after_flatten), f"{head}: {'; '.join(reasons)}"))
    return Explanation(findings, found[0].count)


def unexplained(layer: Layer, actual: int, target: int, mine: ParamCount | None, words: Wording) -> Finding:
    """Nothing reproduces the number: say so plainly, and what was tried."""
    rule = get_rule(layer.kind)
    have = count_text(mine) if mine is not None and mine.params == actual else fmt(actual)
    tried = ", ".join(rule.perturbable) if rule is not None and rule.perturbable else ""
    if mine is None:
        why = f"the {layer.kind} layer cannot be recounted, so nothing was tried"
    elif mine.params != actual:
        why = f"its own attributes give {count_text(mine)}, not what it reports (see the audit), so nothing was tried"
    elif tried:
        why = f"no change of {tried} alone reproduces {fmt(target)}"
    else:
        why = f"a {layer.kind} layer has no attribute to vary"
    check = " — check that row of your table" if words.table else ""
    return Finding("unexplained", f"{words.subject}: {words.other_says} {fmt(target)} but {words.this_has} {have}; {why}{check}")


def compare_hyper(layer: Layer, hyper: dict[str, Any], words: Wording) -> list[Finding]:
    """Direct checks of stated hyper-parameters that do not change the count (or did not explain it)."""
    findings = []
    for attr, value in stated_attrs(layer, hyper).items():
        if not same_value(layer.attrs[attr], value):
            findings.append(
                Finding(
                    CODES.get(attr, attr),
                    f"{words.subject}: your table says {attr} {show(value)} but the layer's is {show(layer.attrs[attr])}",
                )
            )
    padding = hyper.get("padding")
    if padding is not None and "padding" in layer.attrs and not _same_padding(layer.attrs["padding"], padding):
        findings.append(
            Finding("padding", f"{words.subject}: your table says padding {show(padding)} but the layer's is "
                    f"{show(layer.attrs['padding'])}")
        )
    shape = hyper.get("output_shape")
    if shape is not None and layer.output_shapes and not _same_shape(layer.output_shapes[0], shape):
        findings.append(
            Finding("output_shape", f"{words.subject}: your table says the output is {show(shape)} but the layer "
                    f"outputs {show(layer.output_shapes[0])}")
        )
    return findings


def _same_padding(mine: Any, stated: Any) -> bool:
    if stated == "same":
        return mine in ("same_upper", "same_lower", "same")
    if stated == "valid":
        return mine == "valid" or (isinstance(mine, (tuple, list)) and all(tuple(p) == (0, 0) for p in mine))
    if not isinstance(mine, (tuple, list)):
        return False
    sides = [s for pair in mine for s in pair]
    if isinstance(stated, int):
        return all(s == stated for s in sides)
    return tuple(stated) in (tuple(pair[0] for pair in mine), tuple(sides))


def _same_shape(mine: tuple[Any, ...], stated: tuple[int, ...]) -> bool:
    """A stated shape without the batch dim, in either channel position, matches the layer's output."""
    options = [tuple(mine), tuple(mine[1:])]
    if len(mine) > 2:
        body = tuple(mine[1:])
        options += [(body[-1], *body[:-1]), (*body[1:], body[0])]
    return tuple(stated) in options


__all__ = [
    "Explanation",
    "Perturbation",
    "Wording",
    "compare_hyper",
    "count_text",
    "count_with",
    "explain_count",
    "perturbations",
    "stated_attrs",
    "unexplained",
]
