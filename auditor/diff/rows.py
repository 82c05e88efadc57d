"""One diff row from two aligned entries (or one): its status and the findings that explain it."""

from __future__ import annotations

import dataclasses
from typing import Any

from auditor.diff.model import DiffRow, Entry, LayerEntry, RowStatus, TableEntry
from auditor.explain import Wording, compare_hyper, count_text, explain_count, rule_count, stated_attrs
from auditor.findings import Finding
from auditor.rules import fmt

Labels = tuple[str, str]
"""How findings name the left and the right model ("keras", "torch"; or "left", "right")."""


def count_text_of(entry: Entry) -> str:
    """"2,416 = (5*5*6+1)*16" when the entry's rule reproduces its count, else the bare number."""
    if isinstance(entry, LayerEntry):
        counted = rule_count(entry.layer, entry.rules)
        if counted is not None and counted.params == entry.params:
            return count_text(counted)
    return fmt(entry.params)


# ---- model against a table ----------------------------------------------------------------------


def table_row(mine: LayerEntry, theirs: TableEntry, moved: bool = False) -> DiffRow:
    """A model layer against the table row it aligned with: kind, count and hyper-parameter findings."""
    row, layer = theirs.row, mine.layer
    subject = mine.name if row.layer == mine.name else f"{mine.name} (your {row.layer})"
    words = Wording(subject, "your table expects", "the layer has")
    findings: list[Finding] = []
    if row.kind is not None and row.kind not in (layer.kind, mine.family):
        findings.append(Finding("kind", f"{words.subject}: your table says a {row.kind} layer but it is a {layer.kind}"))
    if mine.params != theirs.params:
        known = stated_attrs(layer, row.hyper, mine.rules)
        explanation = explain_count(layer, mine.params, theirs.params, known, words, mine.after_flatten, mine.rules)
        findings += explanation.findings
        if explanation.other_count is not None:
            theirs = dataclasses.replace(theirs, formula=explanation.other_count.formula)
    covered = {f.code for f in findings}
    findings += [f for f in compare_hyper(layer, row.hyper, words, mine.rules) if f.code not in covered]
    return DiffRow(mine, theirs, RowStatus.DIFFERS if findings else RowStatus.SAME, tuple(findings), moved)


def missing_from_table(entry: Entry) -> DiffRow:
    return DiffRow(entry, None, RowStatus.ONLY_LEFT, (Finding(
        "missing_layer", f"{entry.name}: the model's {entry.kind} layer has {count_text_of(entry)} but your "
        f"table has no row for it", -entry.params, "a layer your table has no row for"),))


def extra_in_table(entry: Entry) -> DiffRow:
    return DiffRow(None, entry, RowStatus.ONLY_RIGHT, (Finding(
        "extra_layer", f"{entry.name}: your table lists {fmt(entry.params)} parameters for a layer the model does "
        f"not have (a row too many, or a layer the model lacks)", entry.params, "a row for a layer the model lacks"),))


# ---- model against model ------------------------------------------------------------------------


def pair_row(left: LayerEntry, right: LayerEntry, labels: Labels, moved: bool = False) -> DiffRow:
    """Two aligned layers: same, a tied tensor counted once against a copy, or explained by perturbation."""
    if left.params == right.params:
        return DiffRow(left, right, moved=moved)
    tied = _tied(left, right, labels) or _tied(right, left, labels[::-1], -1)
    findings = [tied] if tied is not None else _explain_pair(left, right, labels)
    return DiffRow(left, right, RowStatus.DIFFERS, tuple(findings), moved)


def only_row(entry: Entry, labels: Labels, left_side: bool) -> DiffRow:
    this, other = labels if left_side else labels[::-1]
    code = "missing_layer" if left_side else "extra_layer"
    finding = Finding(code, f"{entry.name}: {this}'s {entry.kind} layer has {count_text_of(entry)} and {other} "
                      f"has no counterpart", -entry.params if left_side else entry.params, f"a layer only in {this}")
    if left_side:
        return DiffRow(entry, None, RowStatus.ONLY_LEFT, (finding,))
    return DiffRow(None, entry, RowStatus.ONLY_RIGHT, (finding,))


def _known(this: LayerEntry, other: LayerEntry) -> dict[str, Any]:
    """The other layer's values of this layer's perturbable attributes (same kind only)."""
    rule = this.rules.get(this.layer.kind)
    a, b = this.layer, other.layer
    if rule is None or a.kind != b.kind:
        return {}
    return {x: b.attrs[x] for x in rule.perturbable if x in b.attrs and x in a.attrs}


def _tied(this: LayerEntry, other: LayerEntry, labels: Labels, sign: int = 1) -> Finding | None:
    """This side counts a tied tensor once (shared use), the other holds its own copy (`sign`: +1 when
    this side is the left)."""
    layer = this.layer
    if not layer.shared_params or other.params - this.params != layer.shared_params:
        return None
    owners = sorted({p.shared_with for p in layer.params if p.shared_with})
    return Finding(
        "tied_weights",
        f"{this.name}: {labels[0]} uses the weights of {', '.join(owners)} (tied, counted once there) but "
        f"{labels[1]} holds its own copy of {fmt(layer.shared_params)}: the same weights counted twice",
        sign * layer.shared_params, f"tied weights counted once in {labels[0]}, as a copy in {labels[1]}", True,
    )


def _explain_pair(left: LayerEntry, right: LayerEntry, labels: Labels) -> list[Finding]:
    """Perturb left toward right's count; if nothing works, right toward left's (amounts stay right - left)."""
    first: list[Finding] = []
    for sign, (this, other, (a, b)) in zip((1, -1), ((left, right, labels), (right, left, labels[::-1]))):
        subject = this.name if this.name == other.name else f"{this.name} / {other.name}"
        words = Wording(subject, f"{b} has", f"{a} has", a, b, table=False)
        found = explain_count(this.layer, this.params, other.params, _known(this, other), words, this.after_flatten,
                              this.rules)
        findings = [dataclasses.replace(f, amount=sign * (f.amount or 0)) for f in found.findings]
        if found.explained:
            return findings
        first = first or findings
    return first


__all__ = ["count_text_of", "extra_in_table", "missing_from_table", "only_row", "pair_row", "table_row"]
