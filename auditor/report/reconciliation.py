"""Render a `Reconciliation` (diffs, table diffs, checkpoint comparisons alike): the arithmetic line,
one line per cause with its count and amounts, the unexplained remainder by row.  Rendering only."""

from __future__ import annotations

from typing import Any

from auditor.reconcile import Cause, Reconciliation

SHOWN_AMOUNTS = 8
"""A cause lists at most this many of its occurrences' amounts in text (JSON has them all)."""


def signed(n: int) -> str:
    """+2,048 / -1,792 / 0."""
    return f"{n:+,}" if n else "0"


def reconciliation_lines(rec: Reconciliation, markdown: bool = False, heading: str = "Reconciliation") -> list[str]:
    """The block as text lines: heading, `base + explained (+ unexplained) = target`, causes, remainder."""
    head = f"### {heading}" if markdown else f"{heading}:"
    bullet = "- " if markdown else ""
    total = (f"{rec.base} {rec.base_total:,} + explained {signed(rec.explained)}"
             + (f" + unexplained {signed(rec.unexplained)}" if rec.unexplained else "")
             + f" = {rec.target} {rec.target_total:,}")
    lines = [head, f"{bullet}{total}"]
    lines += [f"- {cause_text(cause)}" for cause in rec.causes]
    if rec.remainders:
        shown = ", ".join(f"{r.where} ({signed(r.amount)})" for r in rec.remainders[:SHOWN_AMOUNTS])
        more = f", and {len(rec.remainders) - SHOWN_AMOUNTS} more" if len(rec.remainders) > SHOWN_AMOUNTS else ""
        lines.append(f"- unexplained {signed(rec.unexplained)} in {len(rec.remainders)} row(s): {shown}{more}")
    else:
        lines.append(f"{bullet}unexplained: 0")
    return lines


def cause_text(cause: Cause) -> str:
    """"+3,481,600 = 4 x kernel_size 2x2 not 3x3 (+2,621,440 +655,360 +163,840 +40,960)"; the code is put
    first ("saved_buffer: +2,048 = ...") when the label does not start with it."""
    code = "" if cause.label.startswith(cause.code) else f"{cause.code}: "
    text = f"{code}{signed(cause.amount)} = " + (f"{cause.count} x " if cause.count > 1 else "") + cause.label
    if cause.count > 1 and len(set(cause.amounts)) > 1:
        shown = " ".join(signed(a) for a in cause.amounts[:SHOWN_AMOUNTS])
        more = f" ... {cause.count - SHOWN_AMOUNTS} more" if cause.count > SHOWN_AMOUNTS else ""
        text += f" ({shown}{more})"
    elif cause.count > 1:
        text += f" ({signed(cause.amounts[0])} each)"
    return text


def reconciliation_to_dict(rec: Reconciliation) -> dict[str, Any]:
    """The JSON block: exact integers; `items` one per cause, `unexplained_rows` one per remainder."""
    return {
        "base": rec.base, "base_total": rec.base_total, "target": rec.target, "target_total": rec.target_total,
        "delta": rec.delta, "explained": rec.explained, "unexplained": rec.unexplained, "equivalent": rec.equivalent,
        "items": [{"code": c.code, "cause": c.label, "count": c.count, "amount": c.amount, "equivalent": c.equivalent,
                   "amounts": list(c.amounts), "rows": list(c.where)} for c in rec.causes],
        "unexplained_rows": [{"row": r.where, "amount": r.amount} for r in rec.remainders],
    }


__all__ = ["cause_text", "reconciliation_lines", "reconciliation_to_dict", "signed"]
