"""Needleman-Wunsch: the best-scoring alignment of two sequences when either may skip an item."""

from __future__ import annotations

from collections.abc import Callable

Pair = tuple[int | None, int | None]
"""One aligned position: (left index, right index), None on the side that skips."""


def global_alignment(n: int, m: int, score: Callable[[int, int], float], gap: float) -> list[Pair]:
    """Pairs (i, j) in order covering every index of both sequences once, with the highest total score.

    `score(i, j)` is what pairing left item i with right item j is worth; leaving an item unpaired costs
    `gap` (negative).  Ties prefer a pair, then a left item skipped, walking back from the end.
    """
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        best[i][0] = i * gap
    for j in range(1, m + 1):
        best[0][j] = j * gap
    for i in range(1, n + 1):
        row, above = best[i], best[i - 1]
        for j in range(1, m + 1):
            row[j] = max(above[j - 1] + score(i - 1, j - 1), above[j] + gap, row[j - 1] + gap)
    pairs: list[Pair] = []
    i, j = n, m
    while i or j:
        if i and j and best[i][j] == best[i - 1][j - 1] + score(i - 1, j - 1):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and best[i][j] == best[i - 1][j] + gap:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def alignment_score(pairs: list[Pair], score: Callable[[int, int], float], gap: float) -> float:
    """The total an alignment is worth: its pairs' scores plus one gap per skipped item."""
    return sum(score(i, j) if i is not None and j is not None else gap for i, j in pairs)
