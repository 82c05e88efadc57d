"""The two diffs: an audited model against an expectation table, and two audited models."""

from __future__ import annotations

from auditor.count import Audit
from auditor.diff.conventions import duplicated_ties, folded, moved_note
from auditor.diff.entries import audit_side, model_entries, table_entries, table_side
from auditor.diff.exports import export_passes
from auditor.diff.match import match
from auditor.diff.model import Diff, DiffRow, export_pair, side_labels
from auditor.diff.rows import extra_in_table, missing_from_table, only_row, pair_row, table_row
from auditor.expect import Expectation
from auditor.findings import Finding
from auditor.rules import fmt


def diff_expectation(audit: Audit, table: Expectation) -> Diff:
    """The audited model (left) against a hand-written or published table (right)."""
    left, right = model_entries(audit), table_entries(table, audit.rules)
    rows = []
    for m in match(left, right):
        if m.left is not None and m.right is not None:
            rows.append(table_row(left[m.left], right[m.right], m.moved))
        elif m.left is not None:
            rows.append(missing_from_table(left[m.left]))
        elif m.right is not None:
            rows.append(extra_in_table(right[m.right]))
    right_total = table.total if table.total is not None else table.rows_sum
    notes = [f"columns not used: {', '.join(table.unused_columns)}"] if table.unused_columns else []
    return Diff(audit_side(audit), table_side(table), tuple(rows), audit.totals.reported, right_total,
                tuple(_table_totals(table, audit, right_total)), tuple(notes + moved_note(rows)))


def _table_totals(table: Expectation, audit: Audit, right_total: int) -> list[Finding]:
    findings = []
    reported = audit.totals.reported
    if table.total is not None and table.total != reported:
        findings.append(Finding("total", f"your table's TOTAL is {fmt(table.total)} but the model has {fmt(reported)} "
                                f"parameters ({right_total - reported:+,})"))
    if table.total is not None and table.total != table.rows_sum:
        findings.append(Finding("table_total", f"your table's rows add up to {fmt(table.rows_sum)}, not its TOTAL "
                                f"{fmt(table.total)}", table.total - table.rows_sum,
                                "your table's TOTAL is not the sum of its rows"))
    return findings


def diff_audits(left: Audit, right: Audit) -> Diff:
    """Two audited models side by side, aligned by order and kind with gaps allowed."""
    sides = (audit_side(left), audit_side(right))
    labels = side_labels(*sides)
    a, b = model_entries(left), model_entries(right)
    rows = []
    for m in match(a, b, by_name=export_pair(*sides)):
        if m.left is not None and m.right is not None:
            rows.append(pair_row(a[m.left], b[m.right], labels, m.moved))
        elif m.left is not None:
            rows.append(only_row(a[m.left], labels, True))
        elif m.right is not None:
            rows.append(only_row(b[m.right], labels, False))
    rows = [row for row in rows if _owns_something(row)]
    rows = duplicated_ties(folded(rows, sides, labels), (left, right), labels)
    rows = export_passes(rows, sides, labels, (left, right))
    return Diff(sides[0], sides[1], tuple(rows), left.totals.reported, right.totals.reported,
                notes=tuple(moved_note(rows)))


def _owns_something(row: DiffRow) -> bool:
    """Keep a one-sided row only when it owns something (a tied second use alone is not a layer)."""
    if row.left is not None and row.right is not None:
        return True
    entry = row.left or row.right
    layer = entry.layer if entry is not None else None
    return entry is not None and (entry.params > 0 or (layer is not None and layer.reported_buffers > 0))


__all__ = ["diff_audits", "diff_expectation"]
