"""What a diff is made of: two sides, rows of entries, findings.  Frozen data, no behaviour beyond sums."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from auditor.count import Finding, LayerCheck
from auditor.expect import ExpectedRow
from auditor.ir import Layer
from auditor.registry import Registry
from auditor.rules import RULES, Rule

SCHEMA = "nn-auditor/diff@1"
"""The name and version of a diff's structured form (`auditor.report.diff.diff_to_dict`)."""


class RowStatus(enum.StrEnum):
    SAME = "same"
    DIFFERS = "differs"
    ONLY_LEFT = "only-left"
    ONLY_RIGHT = "only-right"


@dataclass(frozen=True)
class Side:
    """Where one side of a diff comes from."""

    name: str
    source: str
    framework: str
    """"onnx", "torch", "keras", or "table"."""
    exporter: str | None = None
    """Who exported the graph, when it is an export (exporters fold layers: BatchNorm into a conv)."""


@dataclass(frozen=True)
class Entry:
    """One side of a row: a name, a kind (None: a table row that gives none) and the count it states."""

    name: str
    kind: str | None
    params: int
    formula: str | None = None
    after_flatten: bool = False
    """The layer reads a flattened feature map (its input size comes from the map's shape)."""
    norm: int | None = None
    """The count with counting conventions set aside (see `Rule.conventions`); None: the reported count."""
    family: str | None = None
    """The kind's family (`Rule.family`): conv and conv_transpose pair up; None: the kind itself."""

    @property
    def layer(self) -> Layer | None:
        return None

    @property
    def compared(self) -> int:
        """The count alignment compares: convention-free when known, else as reported."""
        return self.params if self.norm is None else self.norm

    @property
    def group(self) -> str | None:
        """The kind family alignment compares."""
        return self.family or self.kind


@dataclass(frozen=True, kw_only=True)
class LayerEntry(Entry):
    """A model's layer (with its check), recounted and explained with the rules its audit used."""

    check: LayerCheck
    rules: Registry[str, Rule] = field(default=RULES, repr=False, compare=False)

    @property
    def layer(self) -> Layer:
        return self.check.layer


@dataclass(frozen=True, kw_only=True)
class TableEntry(Entry):
    """A row of an expectation table."""

    row: ExpectedRow


@dataclass(frozen=True)
class DiffRow:
    left: Entry | None
    right: Entry | None
    status: RowStatus = RowStatus.SAME
    findings: tuple[Finding, ...] = ()
    moved: bool = False
    """The pair is listed in a different order on the two sides (a reordered branch)."""

    @property
    def left_params(self) -> int | None:
        return self.left.params if self.left is not None else None

    @property
    def right_params(self) -> int | None:
        return self.right.params if self.right is not None else None

    @property
    def delta(self) -> int:
        """right - left (a missing side counts as 0)."""
        return (self.right_params or 0) - (self.left_params or 0)

    @property
    def one_sided(self) -> bool:
        return self.status in (RowStatus.ONLY_LEFT, RowStatus.ONLY_RIGHT)


@dataclass(frozen=True)
class Diff:
    """Two sides lined up row by row; `findings` are model-level (totals), rows carry their own."""

    left: Side
    right: Side
    rows: tuple[DiffRow, ...]
    left_total: int
    right_total: int
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return bool(self.findings) or any(row.status != RowStatus.SAME for row in self.rows)

    @property
    def all_findings(self) -> list[Finding]:
        return [f for row in self.rows for f in row.findings] + list(self.findings)

    def row_counts(self) -> dict[str, int]:
        """How many rows have each status."""
        return {s.value: sum(row.status == s for row in self.rows) for s in RowStatus}


__all__ = ["SCHEMA", "Diff", "DiffRow", "Entry", "LayerEntry", "RowStatus", "Side", "TableEntry"]
