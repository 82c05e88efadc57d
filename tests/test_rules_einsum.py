"""The einsum rule: equation parsing (explicit, implicit, ellipsis), output shapes and MACs by hand."""

from __future__ import annotations

import pytest

from auditor.rules import RuleError, SymbolicShape
from auditor.rules.einsum import einsum_macs, einsum_output_shape


@pytest.mark.parametrize("equation, shapes, out, macs", [
    ("ij,jk->ik", [(3, 4), (4, 5)], (3, 5), 3 * 4 * 5),
    ("bhqd,bhkd->bhqk", [(2, 4, 7, 8), (2, 4, 9, 8)], (2, 4, 7, 9), 2 * 4 * 7 * 9 * 8),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (5, 6)], (2, 3, 4, 6), 2 * 3 * 4 * 5 * 6),
    ("ij,jk", [(3, 4), (4, 5)], (3, 5), 60),                  # implicit output: labels used once, sorted
    ("ba,ca", [(3, 4), (5, 4)], (3, 5), 60),
    ("ij->ji", [(3, 4)], (4, 3), 0),                           # one operand: a transpose costs nothing
    ("ii->i", [(3, 3)], (3,), 0),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)], (2, 5), 2 * 3 * 4 + 2 * 4 * 5),  # left to right
    ("bi,bi->b", [(6, 8), (6, 8)], (6,), 48),
])
def test_shape_and_macs(equation, shapes, out, macs):
    assert einsum_output_shape(equation, shapes) == out
    assert einsum_macs(equation, shapes) == macs


def test_symbolic_dims_make_macs_unknown_but_keep_the_shape():
    assert einsum_output_shape("bij,bjk->bik", [("B", 3, 4), ("B", 4, 5)]) == ("B", 3, 5)
    with pytest.raises(SymbolicShape):
        einsum_macs("bij,bjk->bik", [("B", 3, 4), ("B", 4, 5)])


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (5, 6)]),
    ("ij,jk->ik", [(3, 4)]),
    ("ijk,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk->iz", [(3, 4), (4, 5)]),
])
def test_inconsistent_equations_are_rule_errors(equation, shapes):
    with pytest.raises(RuleError):
        einsum_output_shape(equation, shapes)
