"""What an exporter does to a model's counts, each a pass over the rows of a model-vs-export diff.

Measured on torch 2.13's two exporters (DESIGN.md): both fold BatchNorm into the conv before it
(`conventions.folded`), write tied weights twice (`conventions.duplicated_ties`, `rows._tied`), merge
tensors of identical values, prune modules the graph does not reach, and write constants the forward
pass computes (attention masks, rotary cos/sin, RNN initial states) or buffers as initializers; the
dynamo optimizer also drops all-zero biases and identity LayerNorms and folds an embedding lookup at
fixed positions into a constant of the rows used.  Every finding here is `equivalent` (the export
computes what the model computes) and carries the part of its row's delta it explains; a row no pass
explains keeps its generic finding, which is not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from auditor.count import Audit
from auditor.diff.constants import export_constants, settled
from auditor.diff.match import base_name
from auditor.diff.model import DiffRow, Entry, LayerEntry, RowStatus, Side
from auditor.diff.rows import Labels, only_row
from auditor.explain import count_with
from auditor.findings import Finding
from auditor.ir import Layer
from auditor.rules import fmt


@dataclass(frozen=True)
class Export:
    """Which side of the diff is the exporter's graph; amounts are always right minus left."""

    side: int
    """0: the left side is the export; 1: the right."""
    labels: Labels
    audits: tuple[Audit, Audit]

    def entries(self, row: DiffRow) -> tuple[Entry | None, Entry | None]:
        """(the model's entry, the export's entry) of a row."""
        return (row.left, row.right) if self.side == 1 else (row.right, row.left)

    def amount(self, export_minus_model: int) -> int:
        return export_minus_model if self.side == 1 else -export_minus_model

    @property
    def names(self) -> tuple[str, str]:
        """(how findings name the model, how they name the export)."""
        return (self.labels[0], self.labels[1]) if self.side == 1 else (self.labels[1], self.labels[0])

    @property
    def model(self) -> Audit:
        return self.audits[1 - self.side]

    @property
    def graph(self) -> Audit:
        return self.audits[self.side]


def export_side(sides: tuple[Side, Side]) -> int | None:
    """The index of the side that is an exporter's graph of the other, if exactly one is."""
    exported = [side.exporter is not None for side in sides]
    return exported.index(True) if exported.count(True) == 1 else None


def export_passes(rows: list[DiffRow], sides: tuple[Side, Side], labels: Labels,
                  audits: tuple[Audit, Audit]) -> list[DiffRow]:
    """The rows with every exporter rewrite that accounts for a row's delta put in its generic finding's place."""
    side = export_side(sides)
    if side is None:
        return rows
    view = Export(side, labels, audits)
    rows = [part for row in rows for part in _split(row, view)]
    rows = [_paired(row, view) if _tie_or_open(row) and row.left and row.right else row for row in rows]
    rows = export_constants(rows, view)
    return [_one_sided(row, view) if not settled(row) else row for row in rows]


def _tie_or_open(row: DiffRow) -> bool:
    """Not yet explained as a rewrite, or explained as a tie (which, in an export, may be a merge)."""
    return not settled(row) or (bool(row.findings) and all(f.code == "tied_weights" for f in row.findings))


def finding(view: Export, code: str, message: str, export_minus_model: int, cause: str) -> Finding:
    return Finding(code, message, view.amount(export_minus_model), cause, True)


# ---- a layer on both sides ------------------------------------------------------------------------


def _split(row: DiffRow, view: Export) -> list[DiffRow]:
    """A pair of layers of two kind families and two names is no pair in an export (the alignment paired
    a pruned dense layer with a mask constant, or a 64-element token-type table with a 64-element mask,
    for want of better): two one-sided rows.  Pairs an equivalence already explains stay."""
    if not row.left or not row.right or row.left.group == row.right.group:
        return [row]
    if settled(row) and row.status != RowStatus.SAME:
        return [row]
    if base_name(row.left.name) == base_name(row.right.name):
        return [row]
    return [only_row(row.left, view.labels, True), only_row(row.right, view.labels, False)]



def _paired(row: DiffRow, view: Export) -> DiffRow:
    """Merged tensors, a dropped all-zero bias, a dropped identity norm: each a share of the row's delta."""
    mine, theirs = view.entries(row)
    if not isinstance(mine, LayerEntry) or not isinstance(theirs, LayerEntry):
        return row
    model, graph = view.names
    findings: list[Finding] = []
    merged = theirs.layer.shared_params - mine.layer.shared_params
    if merged > 0:
        owners = ", ".join(sorted({p.shared_with for p in theirs.layer.params if p.shared_with}))
        findings.append(finding(view, "merged_tensors", f"{theirs.name}: {graph} stores {fmt(merged)} of its "
                                f"elements once, shared with {owners}, where {model} keeps its own: the exporter "
                                "merged tensors of identical values (a fresh initialisation's equal norm weights or "
                                "zero biases)", -merged, "identical tensors merged by the exporter"))
    dropped = _dropped(mine.layer, theirs.layer, mine)
    if dropped is not None:
        attr, size = dropped
        what = "an all-zero bias" if attr == "use_bias" else "an identity norm's scale of ones and shift of zeros"
        code = "zero_bias_dropped" if attr == "use_bias" else "identity_norm_dropped"
        findings.append(finding(view, code, f"{theirs.name}: {graph} lacks {what} ({fmt(size)}) that {model} has: "
                                "the exporter's optimizer dropped it", -size, f"{what} dropped by the exporter"))
    if not findings or sum(f.amount or 0 for f in findings) != row.delta:
        return row
    return dataclasses.replace(row, findings=tuple(findings))


def _dropped(model: Layer, graph: Layer, entry: LayerEntry) -> tuple[str, int] | None:
    """(the attribute, the elements) when the export's layer lacks a bias or a norm's affine terms the model has."""
    rule = entry.rules.get(model.kind)
    if rule is None or model.kind != graph.kind:
        return None
    for attr in ("use_bias", "scale", "center"):
        if model.attrs.get(attr) is True and graph.attrs.get(attr) is False:
            changes = {a: False for a in ("scale", "center") if graph.attrs.get(a) is False} if attr != "use_bias" \
                else {attr: False}
            fewer = count_with(model, changes, entry.rules)
            if fewer is not None:
                return attr, entry.params - fewer.params
    return None


# ---- a layer on one side only -------------------------------------------------------------------


def _one_sided(row: DiffRow, view: Export) -> DiffRow:
    """A layer only the model has (`_model_only`), or only the export has and that counts nothing of
    its own: it uses again a constant another layer owns (one attention mask added in every layer)."""
    mine, theirs = view.entries(row)
    if mine is None and isinstance(theirs, LayerEntry) and theirs.params == 0 and theirs.layer.shared_params:
        owners = ", ".join(sorted({p.shared_with for p in theirs.layer.params if p.shared_with}))
        return dataclasses.replace(row, findings=(finding(
            view, "constant_reused", f"{theirs.name}: {view.names[1]}'s {theirs.kind} layer uses a constant that "
            f"{owners} already holds (counted once there), so it adds nothing", 0,
            "a constant the export uses again (counted once)"),))
    return _model_only(row, view)


def _model_only(row: DiffRow, view: Export) -> DiffRow:
    """A model layer the export has no trace of: buffers only (constants there), or pruned."""
    mine, theirs = view.entries(row)
    if theirs is not None or not isinstance(mine, LayerEntry):
        return row
    model, graph = view.names
    layer = mine.layer
    if mine.params == 0:
        buffers = ", ".join(p.name for p in layer.params if p.buffer)
        return dataclasses.replace(row, findings=(finding(
            view, "buffers_as_constants", f"{mine.name}: no parameters, only buffers ({buffers}); {graph} uses their "
            "values as constants where it needs them", 0, "buffers (no parameters) used as constants"),))
    twin = _constant_twin(layer, view)
    if twin is not None:
        return dataclasses.replace(row, findings=(finding(
            view, "merged_tensors", f"{mine.name}: {model}'s {mine.kind} layer ({fmt(mine.params)}) has no row in "
            f"{graph}, which keeps one constant of its shape ({twin}) for it and its equals: the exporter merged "
            "tensors of identical values (a fresh initialisation's norm weights of ones)", -mine.params,
            "identical tensors merged by the exporter"),))
    called = getattr(layer, "called", None)
    why = "forward never calls it" if called is False else "no graph output depends on it (never called, or its " \
        "output unused), or it is an identity the optimizer removed"
    return dataclasses.replace(row, findings=(finding(
        view, "pruned", f"{mine.name}: {model}'s {mine.kind} layer ({fmt(mine.params)}) is not in {graph}: {why}, so "
        "the exporter left it out", -mine.params, "module the export prunes (never called, or its output unused)"),))


def _constant_twin(layer: Layer, view: Export) -> str | None:
    """For a layer forward ran but the export lacks: a constant of the export (a tensor no rule sizes, as
    a decomposed norm's weight is) with the shape of each of its tensors, named; None when there is none."""
    if not layer.input_shapes:
        return None
    loose = {p.shape: p.name for other in view.graph.model.layers if view.graph.rules.get(other.kind) is None
             for p in other.params if p.counted}
    names = [loose.get(p.shape) for p in layer.params if p.counted]
    return ", ".join(n for n in names if n) if names and all(names) else None


__all__ = ["Export", "export_passes", "export_side", "finding"]
