"""The heaviest strictly increasing subsequence, in O(n log width) with a Fenwick tree of prefix maxima."""

from __future__ import annotations


def heaviest_chain(values: list[int], weights: list[int], width: int) -> set[int]:
    """Positions of the subsequence of `values` (distinct ints in 0..width-1) that increases and weighs most."""
    tree = [(0, -1)] * (width + 1)
    back = [-1] * len(values)
    for n, value in enumerate(values):
        best, k = (0, -1), value
        while k > 0:
            best, k = max(best, tree[k]), k - (k & -k)
        back[n] = best[1]
        total, k = (best[0] + weights[n], n), value + 1
        while k <= width:
            tree[k], k = max(tree[k], total), k + (k & -k)
    best, k = (0, -1), width
    while k > 0:
        best, k = max(best, tree[k]), k - (k & -k)
    chain, n = set(), best[1]
    while n >= 0:
        chain.add(n)
        n = back[n]
    return chain
