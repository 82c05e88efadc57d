"""The generic sequence algorithms of `auditor.align`, checked against brute force on small inputs."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.align import global_alignment, heaviest_chain, ordered_matching
from auditor.align.global_alignment import alignment_score


def all_alignments(n: int, m: int):
    """Every way to walk from (0, 0) to (n, m) by pairs and skips."""
    if n == 0 and m == 0:
        yield []
        return
    if n and m:
        for rest in all_alignments(n - 1, m - 1):
            yield [*rest, (n - 1, m - 1)]
    if n:
        for rest in all_alignments(n - 1, m):
            yield [*rest, (n - 1, None)]
    if m:
        for rest in all_alignments(n, m - 1):
            yield [*rest, (None, m - 1)]


@st.composite
def score_tables(draw):
    n, m = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    table = [[draw(st.integers(-3, 4)) for _ in range(m)] for _ in range(n)]
    return n, m, table, draw(st.integers(-3, -1))


@settings(max_examples=150, deadline=None)
@given(score_tables())
def test_alignment_is_as_good_as_the_best_of_all_alignments(case):
    n, m, table, gap = case

    def score(i: int, j: int) -> float:
        return table[i][j]

    pairs = global_alignment(n, m, score, gap)
    assert [i for i, _ in pairs if i is not None] == list(range(n))
    assert [j for _, j in pairs if j is not None] == list(range(m))
    best = max(alignment_score(a, score, gap) for a in all_alignments(n, m))
    assert alignment_score(pairs, score, gap) == best


def test_one_skipped_item_keeps_the_rest_paired():
    left, right = [5, 7, 9, 11], [5, 9, 11]
    pairs = global_alignment(4, 3, lambda i, j: 2.0 if left[i] == right[j] else -1.0, -1.0)
    assert pairs == [(0, 0), (1, None), (2, 1), (3, 2)]


EDGES = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=8, unique=True)


def keeps_order(pairs) -> bool:
    ordered = sorted(pairs)
    return all(a1 < a2 and b1 < b2 for (a1, b1), (a2, b2) in itertools.pairwise(ordered))


@settings(max_examples=200, deadline=None)
@given(EDGES)
def test_matching_keeps_order_and_is_the_largest_then_the_nearest(edges):
    found = ordered_matching(edges)
    assert set(found) <= set(edges) and keeps_order(found) and found == sorted(found)
    best = max(
        (len(subset), -sum(abs(a - b) for a, b in subset))
        for size in range(len(edges) + 1) for subset in itertools.combinations(edges, size) if keeps_order(subset)
    )
    assert (len(found), -sum(abs(a - b) for a, b in found)) == best


@st.composite
def chains(draw):
    width = draw(st.integers(1, 8))
    values = draw(st.lists(st.integers(0, width - 1), max_size=width, unique=True))
    weights = [draw(st.integers(1, 9)) for _ in values]
    return values, weights, width


@settings(max_examples=200, deadline=None)
@given(chains())
def test_heaviest_chain_increases_and_weighs_the_most(case):
    values, weights, width = case
    chain = sorted(heaviest_chain(values, weights, width))
    assert all(values[x] < values[y] for x, y in itertools.pairwise(chain))
    best = max(
        (sum(weights[p] for p in subset) for size in range(len(values) + 1)
         for subset in itertools.combinations(range(len(values)), size)
         if all(values[x] < values[y] for x, y in itertools.pairwise(subset))),
        default=0,
    )
    assert sum(weights[p] for p in chain) == best
