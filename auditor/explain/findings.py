"""A count difference as findings: the changes that reproduce the other number, or plainly, nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.explain.search import Rules, perturbations, rule_count
from auditor.explain.wording import Wording, count_text, reason
from auditor.findings import Finding
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
    """Findings for a layer that has `actual` parameters where the other side says `target`.

    The first finding of the first change found carries `target - actual` (this layer's view); the others 0.
    """
    mine, rule = rule_count(layer, rules), rules.get(layer.kind)
    if mine is None or rule is None or mine.params != actual:
        return Explanation([unexplained(layer, actual, target, mine, words, rules)])
    found = perturbations(layer, target, known, rules)
    if not found:
        return Explanation([unexplained(layer, actual, target, mine, words, rules)])
    findings = []
    for n, p in enumerate(found):
        head = f"{words.subject}: {words.other_says} {count_text(p.count)} but {words.this_has} {count_text(mine)}"
        changes = [words.change(layer, a, v, target - actual, after_flatten) for a, v in p.changes.items()]
        reasons = [reason(rule, change) for change in changes]
        cause = " and ".join(words.cause(rule, change) for change in changes)
        equivalent = all(a in rule.conventions for a in p.changes)
        for k, attr in enumerate(p.changes):
            amount = target - actual if n == 0 and k == 0 else 0
            findings.append(Finding(rule.finding_code(layer, attr, after_flatten), f"{head}: {'; '.join(reasons)}",
                                    amount, cause, equivalent))
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
