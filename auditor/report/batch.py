"""Render the summary of a batch of audits (`audit DIR`, `--each`): one row per model.  Rendering only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from auditor.batch import Outcome
from auditor.report.common import count_text

HEADERS = ["model", "params", "verified", "status", "seconds"]


def summary_dicts(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The summary as JSON rows: exact counts, the verified share as a fraction, wall seconds per model."""
    return [{"source": o.spec, "name": o.name, "params": o.params,
             "verified_fraction": None if o.verified_fraction is None else round(o.verified_fraction, 6),
             "status": o.status, "seconds": round(o.seconds, 3), **({"error": o.error} if o.error else {})}
            for o in outcomes]


def render_summary(outcomes: Sequence[Outcome], fmt: str, wall_seconds: float, jobs: int) -> str:
    """The table (or Markdown table) of every model, and one line of totals."""
    from tabulate import tabulate

    rows = [[o.spec, count_text(o.params), _percent(o.verified_fraction), o.status, f"{o.seconds:.2f}"]
            for o in outcomes]
    markdown = fmt == "markdown"
    table = tabulate(rows, headers=HEADERS, tablefmt="github" if markdown else "simple",
                     colalign=("left", "right", "right", "left", "right"), disable_numparse=True)
    counts = Counter(o.status for o in outcomes)
    tally = ", ".join(f"{counts[s]} {s}" for s in ("ok", "unverified", "mismatch", "error") if counts[s])
    title = f"Summary of {len(outcomes)} models"
    line = f"{tally}; {wall_seconds:.1f} s wall with {jobs} job{'s' if jobs != 1 else ''}"
    return "\n".join([f"## {title}" if markdown else title, "", table, "", line]) + "\n"


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.1f}%"
