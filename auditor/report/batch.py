"""Render the summary of a batch of audits (`audit DIR`, `--each`): one row per model.  Rendering only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape
from typing import Any

from auditor.outcome import Outcome
from auditor.report.common import count_text

HEADERS = ["model", "params", "verified", "status", "seconds"]


def summary_dicts(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The summary as JSON rows: exact counts, the verified share as a fraction, wall seconds per model."""
    return [{"source": o.spec, "name": o.name, "params": o.params,
             "verified_fraction": None if o.verified_fraction is None else round(o.verified_fraction, 6),
             "status": o.status, "seconds": round(o.seconds, 3), **({"error": o.error} if o.error else {})}
            for o in outcomes]


def render_summary(outcomes: Sequence[Outcome], fmt: str, wall_seconds: float, jobs: int) -> str:
    """The table (Markdown table, HTML table) of every model, and one line of totals."""
    from tabulate import tabulate

    rows = [[o.spec, count_text(o.params), _percent(o.verified_fraction), o.status, f"{o.seconds:.2f}"]
            for o in outcomes]
    if fmt == "html":
        return _html(rows, outcomes, _tally(outcomes, wall_seconds, jobs))
    markdown = fmt == "markdown"
    table = tabulate(rows, headers=HEADERS, tablefmt="github" if markdown else "simple",
                     colalign=("left", "right", "right", "left", "right"), disable_numparse=True)
    title = f"Summary of {len(outcomes)} models"
    return "\n".join([f"## {title}" if markdown else title, "", table, "", _tally(outcomes, wall_seconds, jobs)]) + "\n"


def _tally(outcomes: Sequence[Outcome], wall_seconds: float, jobs: int) -> str:
    counts = Counter(o.status for o in outcomes)
    tally = ", ".join(f"{counts[s]} {s}" for s in ("ok", "unverified", "mismatch", "error") if counts[s])
    return f"{tally}; {wall_seconds:.1f} s wall with {jobs} job{'s' if jobs != 1 else ''}"


def _html(rows: list[list[str]], outcomes: Sequence[Outcome], tally: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    body = "".join(
        f'<tr class="{"ok" if o.status == "ok" else "mismatch" if o.status in ("mismatch", "error") else "unverified"}">'
        + "".join(f'<td{" class=n" if i in (1, 2, 4) else ""}>{escape(cell)}</td>' for i, cell in enumerate(row))
        + (f'<td>{escape(o.error)}</td>' if o.error else "<td></td>") + "</tr>"
        for row, o in zip(rows, outcomes))
    return (f"<section class=\"summary\"><h1>Summary of {len(outcomes)} models</h1><p>{escape(tally)}</p>"
            f"<table><thead><tr>{head}<th>error</th></tr></thead><tbody>{body}</tbody></table></section>")


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.1f}%"
