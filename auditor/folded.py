"""An audit's checks summed under their first N path components: the rows of `audit --depth N`.

Apart from `auditor.count` because only a report with a depth builds them (the reports call `fold_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.layer_check import LayerCheck, Status

if TYPE_CHECKING:
    from auditor.count import Audit


@dataclass
class FoldedRow:
    """Several checks summed under one path prefix (`audit --depth N`)."""

    path: str
    checks: list[LayerCheck]

    @property
    def reported(self) -> int:
        return sum(c.reported for c in self.checks)

    @property
    def analytic(self) -> int | None:
        values = [c.analytic for c in self.checks]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def macs(self) -> int | None:
        values = [c.macs for c in self.checks]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        for worst in (Status.MISMATCH, Status.UNVERIFIED, Status.OK):
            if worst in statuses:
                return worst
        return Status.NO_PARAMS

    @property
    def kind(self) -> str:
        kinds = {c.kind for c in self.checks}
        return kinds.pop() if len(kinds) == 1 else f"{len(self.checks)} layers"


def fold_checks(audit: Audit, depth: int) -> list[FoldedRow]:
    """Group consecutive checks by their first `depth` path components (0 = one row per layer)."""
    rows: list[FoldedRow] = []
    sep = audit.model.path_separator
    for check in audit.checks:
        prefix = check.path if depth <= 0 else sep.join(check.path.split(sep)[:depth])
        if rows and rows[-1].path == prefix and depth > 0:
            rows[-1].checks.append(check)
        else:
            rows.append(FoldedRow(prefix, [check]))
    return rows


__all__ = ["FoldedRow", "fold_checks"]
