"""What auditing one model of a batch came to: plain data that crosses processes (`auditor.batch`) and
that the batch summary renders (`auditor.report.batch`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What auditing one model came to: its exit code, its rendering, and the summary table's figures."""

    spec: str
    code: int
    seconds: float
    status: str
    """"ok", "mismatch", "unverified" (only counted as failing under --strict) or "error"."""
    text: str = ""
    """The report in the chosen text format ("" for JSON, and for an error)."""
    document: dict[str, Any] = field(default_factory=dict)
    """The JSON report, or {"source", "error"} for a model that could not be audited."""
    name: str | None = None
    params: int | None = None
    verified_fraction: float | None = None
    error: str | None = None
    """The one-line error (status "error")."""
    details: str = ""
    """The traceback of an unexpected error, shown with --debug."""
