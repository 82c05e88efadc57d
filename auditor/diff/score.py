"""How well two entries pair up: kind family agreement, then count closeness; names only break ties.

Counts are compared convention-free (`Entry.norm`): a Keras BatchNorm (4*C) and a PyTorch one
(2*C + buffers) are equals.  A table row, whose convention is unknown, also matches as reported.
"""

from __future__ import annotations

from auditor.diff.model import Entry

GAP = -1.0
"""Score of leaving one row unmatched."""


def kind_score(a: Entry, b: Entry) -> float:
    """2 for one kind, 1 for one family (or a side without a kind), -1 otherwise."""
    if a.kind is None or b.kind is None:
        return 1.0
    if a.kind == b.kind:
        return 2.0
    if a.group == b.group:
        return 1.0
    return -1.0


def same_count(a: Entry, b: Entry) -> bool:
    """Equal once counting conventions are set aside; a table row (its convention unknown) may also match as reported."""
    if a.norm is not None and b.norm is not None:
        return a.norm == b.norm
    return a.params == b.params or a.compared == b.compared


def score(a: Entry, b: Entry) -> float:
    """Kind agreement, then count closeness; equal names break ties.

    Unequal counts cost a point, so a run of exact pairs shifted by a reordered branch beats pairing
    every row of the run with its neighbour (the branch is left to the moved pass).
    """
    total = kind_score(a, b)
    if same_count(a, b):
        total += 2.0
    else:
        total += min(a.compared, b.compared) / max(a.compared, b.compared, 1) - 1.0
    if a.name == b.name:
        total += 0.1
    return total


def movable(a: Entry, b: Entry) -> bool:
    """Same kind family (a table row without a kind fits any) and the same count."""
    kinds_fit = a.kind is None or b.kind is None or a.group == b.group
    return kinds_fit and same_count(a, b)


__all__ = ["GAP", "kind_score", "movable", "same_count", "score"]
