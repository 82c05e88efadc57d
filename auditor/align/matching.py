"""The largest set of candidate pairs that keeps the order of both sides (no two pairs cross)."""

from __future__ import annotations

from collections.abc import Iterable


def ordered_matching(edges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The most (a, b) candidate pairs with a and b both strictly increasing, then the least total |a - b|.

    Each a and each b is used once.  Ties keep pairs found later in a walk back from the end of both sides.
    """
    allowed = set(edges)
    lefts = sorted({a for a, _ in allowed})
    rights = sorted({b for _, b in allowed})
    best = [[(0, 0)] * (len(rights) + 1) for _ in range(len(lefts) + 1)]
    for x, a in enumerate(lefts):
        for y, b in enumerate(rights):
            take = (best[x][y][0] + 1, best[x][y][1] - abs(a - b)) if (a, b) in allowed else (-1, 0)
            best[x + 1][y + 1] = max(take, best[x][y + 1], best[x + 1][y])
    pairs, x, y = [], len(lefts), len(rights)
    while x and y:
        if best[x][y] == best[x - 1][y]:
            x -= 1
        elif best[x][y] == best[x][y - 1]:
            y -= 1
        else:
            pairs.append((lefts[x - 1], rights[y - 1]))
            x, y = x - 1, y - 1
    return pairs[::-1]
