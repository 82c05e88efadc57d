"""Framework conventions that only show across rows, each a pass over a model-vs-model diff's rows.

- `folded`: a layer present on one side only, right after a layer of the family its rule folds into
  (`Rule.folding`: BatchNorm into a conv), where the other side is an exporter's graph: folded, not lost.
- `duplicated_ties`: a one-sided layer holding exactly the elements the other side ties: an exporter's
  copy of tied weights.
"""

from __future__ import annotations

import dataclasses

from auditor.count import Audit
from auditor.diff.model import DiffRow, LayerEntry, RowStatus, Side
from auditor.diff.rows import Labels, count_text_of
from auditor.findings import Finding
from auditor.rules import fmt


def folded(rows: list[DiffRow], sides: tuple[Side, Side], labels: Labels) -> list[DiffRow]:
    """Rows with fold findings where a one-sided layer was folded into the conv before it by an exporter.

    "Before" is the side's own execution order (the nearest earlier row holding a layer of that side), so
    the pass does not depend on where the alignment put the one-sided row.
    """
    rows = list(rows)
    for index, row in enumerate(rows):
        if not row.one_sided:
            continue
        left_side = row.left is not None
        entry, exporter = (row.left, sides[1].exporter) if left_side else (row.right, sides[0].exporter)
        if not isinstance(entry, LayerEntry) or exporter is None:
            continue
        rule = entry.rules.get(entry.kind or "")
        folding = rule.folding if rule is not None else None
        at = _before(rows, index, left_side)
        if folding is None or at is None:
            continue
        before = rows[at]
        mine, theirs = (before.left, before.right) if left_side else (before.right, before.left)
        added = entry.layer.attrs.get(folding.bias_attr)
        if mine is None or theirs is None or mine.group != folding.into or theirs.params - mine.params not in (0, added):
            continue
        this, other = labels if left_side else labels[::-1]
        sign = -1 if left_side else 1
        cause = f"{folding.name} folded into the {folding.into} before it"
        rows[index] = dataclasses.replace(row, findings=(Finding(
            folding.code,
            f"{entry.name}: {this} has a {folding.name} ({count_text_of(entry)}) that {other} does not: the "
            f"{exporter} exporter folded it into {mine.name} (scale into the weights, shift into the bias); not a "
            f"lost layer", sign * entry.params, cause, True),))
        if theirs.params != mine.params:
            rows[at] = dataclasses.replace(before, status=RowStatus.DIFFERS, findings=(Finding(
                folding.code,
                f"{mine.name}: {other} has {count_text_of(theirs)} but {this} has {count_text_of(mine)}: the "
                f"{folding.name} after it ({entry.name}) was folded into this {folding.into}, which gained a bias of "
                f"{added}", before.delta, f"{folding.into} bias created by a folded {folding.name}", True),))
    return rows


def _before(rows: list[DiffRow], index: int, left_side: bool) -> int | None:
    """The row holding the layer that runs just before row `index`'s layer on its side (a paired row), if any."""
    def position(row: DiffRow) -> int | None:
        entry = row.left if left_side else row.right
        return entry.index if isinstance(entry, LayerEntry) else None

    mine = position(rows[index])
    if mine is None:
        return None
    earlier = [(p, k) for k, row in enumerate(rows) if (p := position(row)) is not None and p < mine]
    if not earlier:
        return None
    _, at = max(earlier)
    return at if rows[at].left is not None and rows[at].right is not None else None


def duplicated_ties(rows: list[DiffRow], audits: tuple[Audit, Audit], labels: Labels) -> list[DiffRow]:
    """Rows with tied_weights findings where one side holds a separate copy of what the other side ties.

    Of a model and its export only the export can hold an exporter's copy; a row another pass explained
    (a folded BatchNorm) keeps its findings.
    """
    shared = (_shared_tensors(audits[0]), _shared_tensors(audits[1]))
    exported = (audits[0].model.exporter is not None, audits[1].model.exporter is not None)
    out = []
    for row in rows:
        left_side = row.left is not None
        entry = row.left if left_side else row.right
        other_shared = shared[1] if left_side else shared[0]
        mine, theirs = (exported[0], exported[1]) if left_side else (exported[1], exported[0])
        model_side = theirs and not mine
        explained = any(f.equivalent for f in row.findings)
        if not row.one_sided or entry is None or entry.params not in other_shared or model_side or explained:
            out.append(row)
            continue
        this, other = labels if left_side else labels[::-1]
        user, owner = other_shared[entry.params]
        out.append(dataclasses.replace(row, findings=(Finding(
            "tied_weights",
            f"{entry.name}: {this} holds a separate copy of {fmt(entry.params)} parameters that {other} ties "
            f"({user} uses the weights of {owner}, counted once): the export duplicated the tied weights",
            -entry.params if left_side else entry.params, "tied weights written twice by the exporter", True),)))
    return out


def _shared_tensors(audit: Audit) -> dict[int, tuple[str, str]]:
    """numel -> (user path, owner path) for each tied second use in the model."""
    out: dict[int, tuple[str, str]] = {}
    for layer in audit.model.layers:
        for p in layer.params:
            if p.shared_with is not None:
                out.setdefault(p.numel, (layer.path, p.shared_with))
    return out


def moved_note(rows: list[DiffRow]) -> list[str]:
    """Say once why some rows are listed out of order."""
    moved = sum(row.moved for row in rows)
    if not moved:
        return []
    return [
        f"{moved} row{'s' if moved > 1 else ''} marked moved: the two sides list "
        f"{'these layers' if moved > 1 else 'this layer'} in a different order (parallel branches, e.g. a residual "
        f"shortcut or an Inception branch, in another valid order); paired by kind and count, or as one layer with "
        f"one attribute changed; the order alone is not a difference"
    ]


__all__ = ["duplicated_ties", "folded", "moved_note"]
