"""A count difference as findings: the changes that reproduce the other number, or plainly, nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.count import Finding
from auditor.explain.search import Rules, perturbations, rule_count
from auditor.explain.wording import Wording, count_text, reason
from auditor.ir import Layer
from auditor.rules import RULES, ParamCount, fmt


@dataclass(frozen=True)
class Explanation:
    """The findings for one count difference, and the other side's count as the first change gives it."""

    findings: list[Finding]
    other_count: ParamCount | None = None

    @property
    def explained(self) -> bool:
        return self.other_count is not None


def explain_count(
    layer: Layer, actual: int, target: int, known: dict[str, Any], words: Wording, after_flatten: bool = False,
    rules: Rules = RULES,
) -> Explanation:
    """Findings for a layer that has `actual` parameters where the other side says `target`."""
    mine, rule = rule_count(layer, rules), rules.get(layer.kind)
    if mine is None or rule is None or mine.params != actual:
        return Explanation([unexplained(layer, actual, target, mine, words, rules)])
    found = perturbations(layer, target, known, rules)
    if not found:
        return Explanation([unexplained(layer, actual, target, mine, words, rules)])
    findings = []
    for p in found:
        head = f"{words.subject}: {words.other_says} {count_text(p.count)} but {words.this_has} {count_text(mine)}"
        reasons = [reason(rule, words.change(layer, a, v, target - actual, after_flatten)) for a, v in p.changes.items()]
        for attr in p.changes:
            findings.append(Finding(rule.finding_code(layer, attr, after_flatten), f"{head}: {'; '.join(reasons)}"))
    return Explanation(findings, found[0].count)


def unexplained(layer: Layer, actual: int, target: int, mine: ParamCount | None, words: Wording,
                rules: Rules = RULES) -> Finding:
    """Nothing reproduces the number: say so plainly, and what was tried."""
    rule = rules.get(layer.kind)
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


__all__ = ["Explanation", "explain_count", "unexplained"]
