"""What a diff is made of: two sides, rows of entries, findings.  Frozen data, no behaviour beyond sums."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from auditor.count import LayerCheck
from auditor.expect import ExpectedRow
from auditor.findings import Finding
from auditor.ir import Layer
from auditor.reconcile import Line, Reconciliation, counted, reconcile
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
    macs: int | None = None
    """The model's MACs when every layer's are known (each side read with its own input shape); None otherwise."""


def export_pair(left: Side, right: Side) -> bool:
    """One side is an exporter's graph and the other is not: the export of a model, compared with it."""
    return (left.exporter is None) != (right.exporter is None) and "table" not in (left.framework, right.framework)


def side_labels(left: Side, right: Side) -> tuple[str, str]:
    """How findings name the two sides: "the model" / "your table"; the frameworks when they differ
    ("keras", "torch"); else "left" / "right"."""
    if right.framework == "table":
        return "the model", "your table"
    a, b = left.framework, right.framework
    return (a, b) if a != b else ("left", "right")


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
    index: int = 0
    """The layer's position in its model's execution order."""

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

    @property
    def where(self) -> str:
        """The row's name in a reconciliation: the left layer's, else the right's; both when they differ."""
        names = [e.name for e in (self.left, self.right) if e is not None]
        return " / ".join(dict.fromkeys(names))

    @property
    def explained(self) -> int:
        """The part of `delta` the row's findings account for."""
        return sum(f.amount or 0 for f in counted(self.findings))

    @property
    def unexplained(self) -> int:
        return self.delta - self.explained


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

    @property
    def reconciliation(self) -> Reconciliation:
        """The delta decomposed by cause, the rest named by rows."""
        lines = [Line(row.where, row.delta, row.findings) for row in self.rows]
        return reconcile(lines, self.findings, (self.left_label, self.left_total), (self.right_label, self.right_total))

    @property
    def left_label(self) -> str:
        return side_labels(self.left, self.right)[0]

    @property
    def right_label(self) -> str:
        return side_labels(self.left, self.right)[1]

    @property
    def equivalent(self) -> bool:
        """The two sides differ only by counting conventions or an exporter's rewrites, all accounted for."""
        return self.differs and self.reconciliation.equivalent

    def row_counts(self) -> dict[str, int]:
        """How many rows have each status."""
        return {s.value: sum(row.status == s for row in self.rows) for s in RowStatus}


__all__ = ["SCHEMA", "Diff", "DiffRow", "Entry", "LayerEntry", "RowStatus", "Side", "TableEntry", "export_pair", "side_labels"]
