"""The perturbation search: recount a copy of a layer with changed attributes through its own rule and
keep each change that reproduces the other side's number exactly.

Values the other side states (a table's kernel column, the other model's attrs) are tried first and,
when they reproduce the number, are the only ones kept.  Which values are worth trying for an attribute
the other side does not state comes from the rule (`choices`, `candidates`, `search_step`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from auditor.ir import Layer
from auditor.registry import Registry
from auditor.rules import RULES, ParamCount, Rule

MAX_EXPLANATIONS = 3
"""At most this many alternative single changes are reported for one difference."""

SEARCH_LIMIT = 1 << 26
"""Upper bound for searched integer attributes (channels, features, hidden sizes)."""

WINDOW_SIZES = range(1, 16)
"""Window sizes (kernels, strides) tried when the other side does not state one."""

Rules = Registry[str, Rule]


@dataclass(frozen=True)
class Perturbation:
    """Attribute changes that make the rule reproduce the other side's count."""

    changes: dict[str, Any]
    count: ParamCount
    confirmed: bool
    """The new values are what the other side states, not a guess."""


def rule_count(layer: Layer, rules: Rules = RULES) -> ParamCount | None:
    """The rule's count of `layer`, or None when it cannot be recomputed."""
    rule = rules.get(layer.kind)
    if rule is None:
        return None
    try:
        return rule.count(layer)
    except Exception:  # noqa: BLE001 - a RuleError, or a bug in a user's rule: not recountable
        return None


def count_with(layer: Layer, changes: dict[str, Any], rules: Rules = RULES) -> ParamCount | None:
    """Recount a copy of `layer` with `changes` applied to its attrs (shapes dropped if they now clash)."""
    rule = rules.get(layer.kind)
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
        return bool(mine == stated)
    if isinstance(mine, bool) or isinstance(stated, bool):
        return bool(mine) == bool(stated)
    return bool(mine == stated)


def _integer_search(layer: Layer, attr: str, target: int, step: int, rules: Rules) -> list[int]:
    """Values v (multiples of step) with count(v) == target; counts grow with these attributes."""

    def params(units: int) -> int | None:
        counted = count_with(layer, {attr: units * step}, rules)
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


def _candidates(rule: Rule, layer: Layer, attr: str, target: int, rules: Rules) -> list[Any]:
    """Values worth trying for `attr` when the other side does not state it."""
    current = layer.attrs.get(attr)
    if attr in rule.choices:
        return [c for c in rule.choices[attr] if c != current]
    own = rule.candidates(layer, attr)
    if own is not None:
        return own
    if isinstance(current, bool):
        return [not current]
    if isinstance(current, (tuple, list)) and current and all(isinstance(c, int) for c in current):
        return [(k,) * len(current) for k in WINDOW_SIZES if (k,) * len(current) != tuple(current)]
    if isinstance(current, int):
        step = rule.search_step(layer, attr)
        return [v for v in _integer_search(layer, attr, target, step, rules) if v != current]
    return []


def perturbations(layer: Layer, target: int, known: dict[str, Any], rules: Rules = RULES) -> list[Perturbation]:
    """Every change found that reproduces `target`; stated values first, and alone when they work."""
    rule = rules.get(layer.kind)
    if rule is None:
        return []
    differing = {a: v for a, v in known.items() if a in layer.attrs and not same_value(layer.attrs[a], v)}
    if len(differing) > 1:
        joint = count_with(layer, rule.along(layer, differing), rules)
        if joint is not None and joint.params == target:
            return [Perturbation(differing, joint, True)]
    found: list[Perturbation] = []
    for attr in rule.perturbable:
        if attr not in layer.attrs:
            continue
        confirmed = attr in known
        if confirmed and attr not in differing:
            continue
        values = [differing[attr]] if confirmed else _candidates(rule, layer, attr, target, rules)
        for value in values:
            counted = count_with(layer, rule.along(layer, {attr: value}), rules)
            if counted is not None and counted.params == target:
                found.append(Perturbation({attr: value}, counted, confirmed))
    found = _telling_apart(found)
    for tier in (0, 1, 2):
        kept = [p for p in found if _tier(rule, layer, p) == tier]
        if kept:
            return kept[:MAX_EXPLANATIONS]
    return []


def _telling_apart(found: list[Perturbation]) -> list[Perturbation]:
    """Drop a guess that differs from an earlier guess of the same attribute only in buffers: the other side
    states parameters, so it cannot tell them apart, and the two findings would contradict each other
    (a hand table's 2*C BatchNorm: "buffers" or "no running statistics").  The first, in the rule's order
    of choices, is kept."""
    kept: list[Perturbation] = []
    for p in found:
        twin = any(not q.confirmed and not p.confirmed and q.changes.keys() == p.changes.keys()
                   and (q.count.params, q.count.trainable) == (p.count.params, p.count.trainable)
                   and q.count.buffers != p.count.buffers for q in kept)
        if not twin:
            kept.append(p)
    return kept


def _tier(rule: Rule, layer: Layer, p: Perturbation) -> int:
    """0: the other side states it; 1: a switch, a choice or a window size; 2: a searched count (channels)."""
    if p.confirmed:
        return 0
    (attr,) = p.changes
    current = layer.attrs.get(attr)
    discrete = attr in rule.choices or isinstance(current, (bool, tuple, list))
    return 1 if discrete else 2


__all__ = ["Perturbation", "count_with", "perturbations", "rule_count", "same_value"]
