"""Line up two entry sequences by order and kind, never by name, in named passes (see `match`).

Keras 2 calls the U-Net's 11th conv `conv2d_11`, Keras 3 `conv2d_10`: names only break ties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditor.align import Pair, global_alignment, heaviest_chain, ordered_matching
from auditor.diff.model import Entry, LayerEntry
from auditor.diff.score import GAP, movable, same_count, score
from auditor.explain import count_with, rule_count, same_value

WINDOW = 12
"""How many rows apart two entries of a reordered branch may be listed and still be paired as moved."""
MAX_PASSES = 4
"""Rounds of pairing moved entries and realigning the rest."""
Edge = tuple[int, int, int, int]
"""A candidate pair: (left row position, left entry index, right row position, right entry index)."""


@dataclass(frozen=True)
class Match:
    """One aligned row: indices into the left and right entries (None: no counterpart)."""

    left: int | None
    right: int | None
    moved: bool = False


def align(left: Sequence[Entry], right: Sequence[Entry]) -> list[Pair]:
    """Global alignment (`auditor.align`) scored by `score`: index pairs in order, None where a row has no counterpart."""
    return global_alignment(len(left), len(right), lambda i, j: score(left[i], right[j]), GAP)


def match(left: Sequence[Entry], right: Sequence[Entry], by_name: bool = False) -> list[Match]:
    """Align; pair reordered branches and realign the rest; pair layers one attribute apart; mark the
    pairs listed out of order.  With `by_name` (one side is an export of the other, whose names are the
    module paths the exporter recorded), layers of the same name are paired first (`same_names`).

    1. `align`: one missing or extra layer leaves the rows after it in place.
    2. `reordered_branches`: a branched model has many valid topological orders (Keras lists a Functional
       model by depth, PyTorch by call order), so a ResNet shortcut sits elsewhere on each side and step 1
       pairs wrong layers.  Unsettled entries of one kind family and count, near each other (or each
       other's only candidate), are taken out of both sequences; step 1 realigns the rest; repeated.
    3. `one_change_apart`: one-sided layers near each other that are one layer with one attribute changed.
    4. `put_back`: the taken pairs return at their left entry's place; those outside the heaviest in-order
       chain are `moved`.
    """
    named = same_names(left, right) if by_name else {}
    taken = dict(named)
    rest = realign(left, right, taken) if taken else align(left, right)
    for _ in range(MAX_PASSES):
        found = reordered_branches(left, right, rest)
        if not found:
            break
        taken.update(found)
        rest = realign(left, right, taken)
    changed = one_change_apart(left, right, rest)
    if changed:
        taken.update(changed)
        rest = realign(left, right, taken)
    return put_back(rest, taken, len(right), named)


def base_name(name: str) -> str:
    """A layer's path without the "#N" an adapter adds to keep paths unique ("m.embeddings#2")."""
    return name.split("#", 1)[0]


def same_names(left: Sequence[Entry], right: Sequence[Entry]) -> dict[int, int]:
    """Entries of one path on both sides (each used once), of one kind family or of a kind no rule knows."""
    rights: dict[str, list[int]] = {}
    for j, entry in enumerate(right):
        rights.setdefault(base_name(entry.name), []).append(j)
    found: dict[int, int] = {}
    for i, entry in enumerate(left):
        free = [j for j in rights.get(base_name(entry.name), []) if j not in found.values()]
        fits = [j for j in free if right[j].group == entry.group] or [j for j in free if _unruled(entry, right[j])]
        if fits:
            found[i] = fits[0]
    return found


def _unruled(a: Entry, b: Entry) -> bool:
    """One side's kind has no rule (an unmapped module, an exporter's loose constant): any kind may pair with it."""
    return any(isinstance(e, LayerEntry) and e.rules.get(e.layer.kind) is None for e in (a, b))


def realign(left: Sequence[Entry], right: Sequence[Entry], taken: dict[int, int]) -> list[Pair]:
    """The alignment of the entries not yet taken, as indices into the full sequences."""
    used = set(taken.values())
    lefts = [i for i in range(len(left)) if i not in taken]
    rights = [j for j in range(len(right)) if j not in used]
    pairs = align([left[i] for i in lefts], [right[j] for j in rights])
    return [(None if i is None else lefts[i], None if j is None else rights[j]) for i, j in pairs]


def _unsettled(left: Sequence[Entry], right: Sequence[Entry], rows: list[Pair]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(row position, entry index) of left and right entries that are one-sided or paired with another count."""
    lefts, rights = [], []
    for at, (i, j) in enumerate(rows):
        if i is not None and j is not None and same_count(left[i], right[j]):
            continue
        if i is not None and left[i].compared > 0:
            lefts.append((at, i))
        if j is not None and right[j].compared > 0:
            rights.append((at, j))
    return lefts, rights


def reordered_branches(left: Sequence[Entry], right: Sequence[Entry], rows: list[Pair]) -> dict[int, int]:
    """Unsettled left and right entries of the same kind and count: nearby, or each other's only candidate.

    Entries of one kind and count keep their relative order (two equal BatchNorms of a block are not swapped).
    """
    lefts, rights = _unsettled(left, right, rows)
    by_count: dict[int, list[tuple[int, int]]] = {}
    for q, j in rights:
        for count in {right[j].params, right[j].compared}:
            by_count.setdefault(count, []).append((q, j))
    edges: list[Edge] = []
    for p, i in lefts:
        seen = {cand for count in {left[i].params, left[i].compared} for cand in by_count.get(count, [])}
        edges += [(p, i, q, j) for q, j in sorted(seen) if movable(left[i], right[j])]
    left_degree = Counter(edge[1] for edge in edges)
    right_degree = Counter(edge[3] for edge in edges)
    classes: dict[Any, list[Edge]] = {}
    for p, i, q, j in edges:
        if abs(p - q) <= WINDOW or (left_degree[i] == 1 and right_degree[j] == 1):
            classes.setdefault((left[i].group, right[j].compared), []).append((p, i, q, j))
    return _pick(classes)


def one_change_apart(left: Sequence[Entry], right: Sequence[Entry], rows: list[Pair]) -> dict[int, int]:
    """One-sided layers, near each other, that are one layer with one attribute changed (a bias dropped ...)."""
    lefts = [(at, i) for at, (i, j) in enumerate(rows) if i is not None and j is None]
    rights = [(at, j) for at, (i, j) in enumerate(rows) if j is not None and i is None]
    edges = [(p, i, q, j) for p, i in lefts for q, j in rights
             if abs(p - q) <= WINDOW and _one_change(left[i], right[j])]
    classes: dict[Any, list[Edge]] = {}
    for edge in edges:
        classes.setdefault(left[edge[1]].kind, []).append(edge)
    return _pick(classes)


def _pick(classes: dict[Any, list[Edge]]) -> dict[int, int]:
    """Within each class the most pairs that keep their order; each entry used once over all classes."""
    found: dict[int, int] = {}
    for group in classes.values():
        left_at = {p: i for p, i, _, _ in group}
        right_at = {q: j for _, _, q, j in group}
        for p, q in ordered_matching((p, q) for p, _, q, _ in group):
            i, j = left_at[p], right_at[q]
            if i not in found and j not in found.values():
                found[i] = j
    return found


def _one_change(a: Entry, b: Entry) -> bool:
    """Same kind, one of the rule's attributes differs, and setting it to b's value gives b's count."""
    if not isinstance(a, LayerEntry) or not isinstance(b, LayerEntry) or a.layer.kind != b.layer.kind:
        return False
    this, other, rule = a.layer, b.layer, a.rules.get(a.layer.kind)
    if rule is None:
        return False
    differing = {x: other.attrs[x] for x in rule.perturbable
                 if x in this.attrs and x in other.attrs and not same_value(this.attrs[x], other.attrs[x])}
    if len(differing) != 1:
        return False
    changed, theirs = count_with(this, differing, a.rules), rule_count(other, b.rules)
    return changed is not None and theirs is not None and changed.params == theirs.params == b.params


def put_back(rest: list[Pair], taken: dict[int, int], width: int, anchored: dict[int, int] | None = None) -> list[Match]:
    """The realigned rows with each taken pair put back before the first row of a later left entry; the
    pairs outside the heaviest in-order chain (every aligned or `anchored` pair, paired by name, outweighs
    all other taken ones) are moved."""
    anchored = anchored or {}
    out = [Match(i, j) for i, j in rest]
    for i, j in sorted(taken.items()):
        at = next((k for k, row in enumerate(out) if row.left is not None and row.left > i), len(out))
        out.insert(at, Match(i, j))
    paired = [(k, row.left, row.right) for k, row in enumerate(out) if row.left is not None and row.right is not None]
    heavy = len(taken) + 1
    weights = [1 if taken.get(i) == j and anchored.get(i) != j else heavy for _, i, j in paired]
    in_order = heaviest_chain([j for _, _, j in paired], weights, width)
    for n, (k, i, j) in enumerate(paired):
        if n not in in_order:
            out[k] = Match(i, j, moved=True)
    return out


__all__ = ["MAX_PASSES", "WINDOW", "Match", "align", "base_name", "match", "same_names", "one_change_apart", "put_back", "realign",
           "reordered_branches"]
