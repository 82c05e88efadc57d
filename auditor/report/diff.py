"""Render a `Diff` as a table, JSON (schema nn-auditor/diff@1), CSV or Markdown.  Rendering only."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from auditor.diff import SCHEMA, Diff, DiffRow, Side
from auditor.findings import Finding
from auditor.report.common import check_format, count_text
from auditor.report.reconciliation import reconciliation_lines, reconciliation_to_dict

HEADERS = ["#", "left", "kind", "left params", "right", "right params", "delta", "status"]


def render_diff(diff: Diff, fmt: str = "table") -> str:
    """The whole diff in `fmt` (table | json | csv | markdown | html)."""
    check_format(fmt)
    if fmt == "json":
        return json.dumps(diff_to_dict(diff), indent=2) + "\n"
    if fmt == "csv":
        return _csv(diff)
    if fmt == "html":
        from auditor.report.html_diff import render_diff_html

        return render_diff_html(diff_to_dict(diff))
    return _text(diff, markdown=fmt == "markdown")


def diff_to_dict(diff: Diff) -> dict[str, Any]:
    """The JSON document (schema nn-auditor/diff@1): both sides, totals, every row and finding, notes, and
    the reconciliation (delta = explained + unexplained, per row and for the whole model)."""
    rec = diff.reconciliation
    return {
        "schema": SCHEMA,
        "left": side_to_dict(diff.left),
        "right": side_to_dict(diff.right),
        "differs": diff.differs,
        "equivalent": rec.equivalent and diff.differs,
        "totals": {
            "left": diff.left_total,
            "right": diff.right_total,
            "delta": diff.right_total - diff.left_total,
            "explained": rec.explained,
            "unexplained": rec.unexplained,
            "rows": diff.row_counts(),
        },
        "rows": [row_to_dict(row) for row in diff.rows],
        "findings": [finding_to_dict(f) for f in diff.findings],
        "notes": list(diff.notes),
        "reconciliation": reconciliation_to_dict(rec),
    }


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "message": f.message, "amount": f.amount, "cause": f.cause or f.code,
            "equivalent": f.equivalent}


def side_to_dict(side: Side) -> dict[str, Any]:
    return {"name": side.name, "source": side.source, "framework": side.framework, "macs": side.macs}


def row_to_dict(row: DiffRow) -> dict[str, Any]:
    return {
        "left": row.left.name if row.left else None,
        "right": row.right.name if row.right else None,
        "left_kind": row.left.kind if row.left else None,
        "right_kind": row.right.kind if row.right else None,
        "left_params": row.left_params,
        "right_params": row.right_params,
        "delta": row.delta,
        "explained": row.explained,
        "unexplained": row.unexplained,
        "status": str(row.status),
        "left_formula": row.left.formula if row.left else None,
        "right_formula": row.right.formula if row.right else None,
        "findings": [finding_to_dict(f) for f in row.findings],
        "moved": row.moved,
    }


def _side(side: Side) -> str:
    return f"{side.name} ({side.framework}, {side.source})"


def _delta(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _kind(row: DiffRow) -> str:
    kinds = [e.kind for e in (row.left, row.right) if e is not None and e.kind]
    if len(set(kinds)) > 1:
        return " / ".join(kinds)
    return kinds[0] if kinds else ""


def _cells(number: int, row: DiffRow) -> list[str]:
    return [
        str(number),
        row.left.name if row.left else "-",
        _kind(row),
        count_text(row.left_params),
        row.right.name if row.right else "-",
        count_text(row.right_params),
        _delta(row.delta) if row.left and row.right else "",
        f"{row.status}, moved" if row.moved else str(row.status),
    ]


def _text(diff: Diff, markdown: bool) -> str:
    from tabulate import tabulate

    rows = [_cells(i, row) for i, row in enumerate(diff.rows, start=1)]
    table = tabulate(rows, headers=HEADERS, tablefmt="github" if markdown else "simple",
                     colalign=("right", "left", "left", "right", "left", "right", "right", "left"),
                     disable_numparse=True)
    title = f"left: {_side(diff.left)}\nright: {_side(diff.right)}"
    if markdown:
        title = f"## Diff\n\n- left: `{_side(diff.left)}`\n- right: `{_side(diff.right)}`"
    parts = [title, "", table, "", *_summary(diff, markdown)]
    return "\n".join(parts).rstrip() + "\n"


def _summary(diff: Diff, markdown: bool) -> list[str]:
    bullet = "- " if markdown else "  "
    delta = diff.right_total - diff.left_total
    lines = [f"total: left {count_text(diff.left_total)}, right {count_text(diff.right_total)} ({_delta(delta)})"]
    if diff.left.macs is not None or diff.right.macs is not None:
        lines.append(f"MACs: left {_macs(diff.left)}, right {_macs(diff.right)}")
    differing = [(i, row) for i, row in enumerate(diff.rows, start=1) if row.findings]
    if differing or diff.findings:
        lines += ["", "### Findings" if markdown else "findings:"]
    for number, row in differing:
        lines += [f"{bullet}[{f.code}] #{number} {f.message}" for f in row.findings]
    lines += [f"{bullet}[{f.code}] {f.message}" for f in diff.findings]
    if diff.notes:
        lines += ["", *[f"note: {n}" for n in diff.notes]]
    rec = diff.reconciliation
    if diff.differs:
        lines += ["", *reconciliation_lines(rec, markdown)]
    lines += ["", verdict(diff)]
    return lines


def verdict(diff: Diff) -> str:
    """One line: agree; equivalent (and by what); or differ."""
    if not diff.differs:
        return "the two sides agree"
    if diff.equivalent:
        codes = ", ".join(dict.fromkeys(c.code for c in diff.reconciliation.causes))
        return (f"equivalent: the two sides differ only by counting conventions or an exporter's rewrites ({codes}), "
                "all accounted for (exit 0; --exact treats any difference as a failure)")
    return "the two sides differ"


def _macs(side: Side) -> str:
    if side.macs is not None:
        return f"{side.macs:,}"
    return "-" if side.framework == "table" else "unknown (give --input-shape, or --left-/--right-input-shape)"


def _csv(diff: Diff) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["left", "left_kind", "left_params", "right", "right_kind", "right_params", "delta", "status",
                     "codes", "findings", "moved"])
    for row in diff.rows:
        data = row_to_dict(row)
        writer.writerow([
            data["left"] or "", data["left_kind"] or "", _blank(data["left_params"]),
            data["right"] or "", data["right_kind"] or "", _blank(data["right_params"]),
            data["delta"], data["status"],
            " ".join(f.code for f in row.findings), " | ".join(f.message for f in row.findings),
            "yes" if row.moved else "",
        ])
    writer.writerow(["TOTAL", "", diff.left_total, "", "", diff.right_total, diff.right_total - diff.left_total,
                     "differs" if diff.differs else "same", " ".join(f.code for f in diff.findings),
                     " | ".join(f.message for f in diff.findings), ""])
    return out.getvalue()


def _blank(value: int | None) -> Any:
    return "" if value is None else value


__all__ = ["diff_to_dict", "finding_to_dict", "render_diff", "row_to_dict", "verdict"]
