"""`AuditResult`: an audit with assertion helpers whose failures show the per-layer table and findings.

Helpers raise plain `AssertionError`s (no pytest needed) and return the result, so they chain:
`audit(model).assert_total(217_706).assert_verified()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.count import Audit, Status
from auditor.errors import InputError
from auditor.expect import Expectation
from auditor.testing.context import Context

if TYPE_CHECKING:
    from auditor.diff import Diff

COUNTS = ("reported", "analytic", "trainable", "non_trainable", "buffers")
"""What `assert_total` can compare; "reported" is the model's parameter count as the framework holds it."""


@dataclass(eq=False)
class Snapshot:
    """A golden per-layer table file: `result == snapshot` compares (or, under --audit-update, writes)."""

    path: str
    context: Context = field(default_factory=Context, repr=False)


def _fail(message: str) -> None:
    __tracebackhide__ = True
    raise AssertionError(message)


def _pct(delta: int, expected: int) -> str:
    return f", {100 * delta / expected:+.4g}%" if expected else ""


def diff_headline(diff: Diff, joint: str = "vs") -> str:
    """"lasagne-mnist (torch) vs cnn.csv (table): 2 of 4 rows differ; total 217,706 vs 217,000 (-706)"."""
    changed = sum(str(row.status) != "same" for row in diff.rows)
    delta = diff.right_total - diff.left_total
    total = f"total {diff.left_total:,} vs {diff.right_total:,}" + (f" ({delta:+,})" if delta else "")
    return (f"{diff.left.name} ({diff.left.framework}) {joint} {diff.right.name} "
            f"({diff.right.framework}): {changed} of {len(diff.rows)} rows differ; {total}")


def diff_message(diff: Diff, joint: str = "vs", findings_first: bool = False) -> str:
    """Headline and the diff reporter's table and findings; `findings_first` repeats the findings right
    under the headline, for reports pytest truncates to a few lines."""
    from auditor.report.diff import render_diff

    findings = [f"  [{f.code}] {f.message}" for f in diff.all_findings] if findings_first else []
    return "\n".join([diff_headline(diff, joint), *findings, "", render_diff(diff, "table").rstrip()])


@dataclass(eq=False)
class AuditResult:
    """The audit of one model, bound to the test that made it (for relative paths and snapshot names)."""

    audit: Audit
    context: Context = field(default_factory=Context, repr=False)

    def __repr__(self) -> str:
        return f"<AuditResult {self.name}: {self.total:,} parameters, {self.audit.totals.layers} layers>"

    @property
    def name(self) -> str:
        return self.audit.model.name

    @property
    def total(self) -> int:
        """The parameter count the framework holds (tied tensors once)."""
        return self.audit.totals.reported

    def count(self, which: str = "reported") -> int:
        """One of COUNTS; InputError for anything else."""
        if which not in COUNTS:
            raise InputError(f"unknown count {which!r}; expected one of {', '.join(COUNTS)}")
        return int(getattr(self.audit.totals, which))

    def report(self, fmt: str = "table") -> str:
        """The audit rendered by the report module (table | json | csv | markdown)."""
        from auditor.report import render_audit

        return render_audit(self.audit, fmt)

    # --- assertions ---------------------------------------------------------------------------

    def assert_total(self, expected: int, *, tolerance: int = 0, rel: float = 0.0,
                     count: str = "reported") -> AuditResult:
        """The model's `count` is `expected`, within max(tolerance, rel * expected)."""
        __tracebackhide__ = True
        actual = self.count(count)
        allowed = max(tolerance, rel * abs(expected))
        if abs(actual - expected) > allowed:
            delta = actual - expected
            margin = f" ± {allowed:,.0f}" if allowed else ""
            what = "parameters" if count == "reported" else f"{count} parameters"
            _fail(f"{self.name} has {actual:,} {what}, expected {expected:,}{margin} "
                  f"({delta:+,}{_pct(delta, expected)})\n\n{self.report()}")
        return self

    def problems(self, allow: tuple[str, ...] = ()) -> list[str]:
        """One line per layer that is mismatched, or unverified unless its kind or path is in `allow`."""
        lines = []
        for check in self.audit.checks:
            if check.status == Status.MISMATCH:
                lines += [f"  [{f.code}] {f.message}" for f in check.findings]
            elif check.status == Status.UNVERIFIED and check.kind not in allow and check.path not in allow:
                lines.append(f"  [unverified] {check.path} ({check.kind}): {check.note}")
        lines += [f"  [{f.code}] {f.message}" for f in self.audit.findings]
        lines += [f"  [unattributed] {t.name} ({t.numel:,} elements) is used by no layer"
                  for t in self.audit.model.unattributed if t.name not in allow]
        return lines

    def assert_verified(self, *, allow: tuple[str, ...] | list[str] = ()) -> AuditResult:
        """Every layer's count and shape recomputed by a rule and equal to the framework's."""
        __tracebackhide__ = True
        lines = self.problems(tuple(allow))
        if lines:
            _fail(f"{self.name}: not every layer is analytically verified\n" + "\n".join(lines)
                  + f"\n\n{self.report()}")
        return self

    def assert_matches_table(self, table: str | os.PathLike[str] | Expectation) -> AuditResult:
        """Per-layer counts (and any stated hyper-parameters) equal an expectation table's."""
        __tracebackhide__ = True
        diff = self._diff(self._table(table))
        if diff.differs:
            _fail(diff_message(diff))
        return self

    def assert_matches(self, other: Any, **options: Any) -> AuditResult:
        """Layer by layer the same counts as `other` (a model, path, spec, Audit or AuditResult)."""
        __tracebackhide__ = True
        diff = self._diff(self._other(other, options))
        if diff.differs:
            _fail(diff_message(diff))
        return self

    def assert_snapshot(self, name: str | None = None) -> AuditResult:
        """Equal to the stored per-layer snapshot; under --audit-update, write or refresh it instead."""
        __tracebackhide__ = True
        message = self._snapshot_message(Snapshot(self.context.snapshot_path(name), self.context))
        if message:
            _fail(message)
        return self

    # --- `result == other` --------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Snapshot):
            return not self._snapshot_message(other)
        right = self._comparable(other)
        if right is None:
            return NotImplemented
        return not self._diff(right).differs

    __hash__ = None  # type: ignore[assignment]

    def explain(self, other: object, findings_first: bool = False) -> list[str] | None:
        """Why `self == other` is false, as lines for pytest's assertion report; None if not comparable."""
        if isinstance(other, Snapshot):
            message = self._snapshot_message(other, findings_first)
            return message.splitlines() if message else None
        right = self._comparable(other)
        if right is None:
            return None
        return diff_message(self._diff(right), "==", findings_first).splitlines()

    # --- internals ----------------------------------------------------------------------------

    def _comparable(self, other: object) -> Audit | Expectation | None:
        if isinstance(other, AuditResult):
            return other.audit
        if isinstance(other, (Audit, Expectation)):
            return other
        return None

    def _diff(self, right: Audit | Expectation) -> Diff:
        from auditor.diff import diff_audits, diff_expectation

        if isinstance(right, Expectation):
            return diff_expectation(self.audit, right)
        return diff_audits(self.audit, right)

    def _table(self, table: str | os.PathLike[str] | Expectation) -> Expectation:
        if isinstance(table, Expectation):
            return table
        from auditor.expect import read_table

        return read_table(self.context.resolve(table))

    def _other(self, other: Any, options: dict[str, Any]) -> Audit:
        comparable = self._comparable(other)
        if isinstance(comparable, Audit):
            return comparable
        import auditor

        if isinstance(other, (str, os.PathLike)) and os.path.exists(self.context.resolve(other)):
            other = self.context.resolve(other)
        return auditor.audit(other, **options)

    def _snapshot_message(self, snapshot: Snapshot, findings_first: bool = False) -> str:
        """"" when the snapshot holds (or was just written under --audit-update), else the drift report."""
        from auditor.testing.snapshot import drift, write_snapshot

        if snapshot.context.update:
            snapshot.context.wrote(snapshot.path, write_snapshot(self.audit, snapshot.path))
            return ""
        found = drift(self.audit, snapshot.path)
        return "" if found is None else found.message(self.name, findings_first)


__all__ = ["COUNTS", "AuditResult", "Snapshot", "diff_headline", "diff_message"]
