"""A delta decomposed: every finding's signed amount grouped by its cause, and what no finding explains,
named by the rows it sits in.  One form for every comparison: a diff of two models, a model against a
table, a checkpoint against its architecture (rendered once, by `auditor.report.reconciliation`).

Which findings count: in a row, the first finding with an amount carries the row's explained share and
later findings with amount 0 are alternatives of it (`Finding.amount`); a finding without an amount
states a difference that moves no count (a table's stride column) and, unless it is `equivalent`, keeps
the comparison from being equivalent.  A model-level finding without an amount restates the totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.findings import Finding

MODEL_LEVEL = "(whole model)"
"""Where a model-level share of the delta (not in any row) is said to be."""


@dataclass(frozen=True)
class Line:
    """One row's share of the delta and the findings that explain it."""

    where: str
    delta: int
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Cause:
    """Findings of one code and cause, with each occurrence's amount and where it is."""

    code: str
    label: str
    amounts: tuple[int, ...]
    where: tuple[str, ...]
    equivalent: bool

    @property
    def amount(self) -> int:
        return sum(self.amounts)

    @property
    def count(self) -> int:
        return len(self.amounts)


@dataclass(frozen=True)
class Remainder:
    """Part of the delta no finding explains, and where it is."""

    where: str
    amount: int


@dataclass(frozen=True)
class Reconciliation:
    """base_total + the causes' amounts + the remainders = target_total, exactly."""

    base: str
    """How the side the delta starts from is named ("left", "the model", "architecture")."""
    base_total: int
    target: str
    target_total: int
    causes: tuple[Cause, ...] = ()
    remainders: tuple[Remainder, ...] = ()
    blocking: tuple[Finding, ...] = ()
    """Findings that move no count but are real differences (a table's stride column, a kind)."""

    @property
    def delta(self) -> int:
        return self.target_total - self.base_total

    @property
    def explained(self) -> int:
        return sum(cause.amount for cause in self.causes)

    @property
    def unexplained(self) -> int:
        return self.delta - self.explained

    @property
    def equivalent(self) -> bool:
        """Every difference is a counting convention or an exporter's rewrite, and nothing is left over."""
        return (self.unexplained == 0 and not self.remainders and not self.blocking
                and all(cause.equivalent for cause in self.causes))


def counted(findings: Sequence[Finding]) -> list[Finding]:
    """The findings of one row that carry its explained share: the first with an amount, and every later
    one with a non-zero amount (amount-0 findings after it are its alternatives)."""
    out: list[Finding] = []
    for finding in findings:
        if finding.amount is None or (out and finding.amount == 0):
            continue
        out.append(finding)
    return out


def reconcile(lines: Iterable[Line], model_findings: Sequence[Finding], base: tuple[str, int],
              target: tuple[str, int]) -> Reconciliation:
    """Group the rows' and the model-level findings' amounts by cause; name what is left over by row."""
    lines = list(lines)
    groups: dict[tuple[str, str], list[tuple[int, str, bool]]] = {}
    remainders: list[Remainder] = []
    blocking: list[Finding] = []
    for line in lines:
        taken = counted(line.findings)
        for finding in taken:
            _add(groups, finding, line.where)
        blocking += [f for f in line.findings if f.amount is None and not f.equivalent]
        left = line.delta - sum(f.amount or 0 for f in taken)
        if left:
            remainders.append(Remainder(line.where, left))
    model_share = target[1] - base[1] - sum(line.delta for line in lines)
    for finding in model_findings:
        if finding.amount is not None:
            _add(groups, finding, MODEL_LEVEL)
            model_share -= finding.amount
    if model_share:
        remainders.append(Remainder(MODEL_LEVEL, model_share))
    causes = tuple(
        Cause(code, label, tuple(a for a, _, _ in members), tuple(w for _, w, _ in members),
              all(e for _, _, e in members))
        for (code, label), members in groups.items())
    return Reconciliation(base[0], base[1], target[0], target[1], causes, tuple(remainders), tuple(blocking))


def _add(groups: dict[tuple[str, str], list[tuple[int, str, bool]]], finding: Finding, where: str) -> None:
    key = (finding.code, finding.cause or finding.code)
    groups.setdefault(key, []).append((finding.amount or 0, where, finding.equivalent))


__all__ = ["MODEL_LEVEL", "Cause", "Line", "Reconciliation", "Remainder", "counted", "reconcile"]
