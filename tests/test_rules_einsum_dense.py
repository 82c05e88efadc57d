"""EinsumDense rule: kernel, bias, output shape and MACs read off the equation, against hand values."""

from __future__ import annotations

import pytest

from auditor.count import Status, check_layer
from auditor.ir import Layer, ParamTensor
from auditor.rules import RuleError, get_rule
from auditor.rules.einsum_dense import einsum_dense_shapes

RULE = get_rule("einsum_dense")


def layer(equation, output_shape, bias_axes, shape):
    return Layer("ed", "einsum_dense", "test", {"equation": equation, "output_shape": output_shape,
                                                  "bias_axes": bias_axes}, [shape])


def test_llama_query_projection():
    """keras_hub Llama's query: hidden 4096 into 32 heads of 128, no bias; MACs per token = 4096*32*128."""
    q = layer("bqm,muh->bquh", (None, 32, 128), "", (1, 128, 4096))
    counted = RULE.count(q)
    assert (counted.params, counted.formula) == (16_777_216, "4096*32*128 = 16,777,216")
    assert RULE.output_shapes(q) == [(1, 128, 32, 128)]
    assert RULE.macs(q) == 128 * 4096 * 32 * 128


def test_multi_head_output_projection_with_bias():
    """Keras MultiHeadAttention's output: (heads, head_dim) back to 768 with a 768 bias (BERT-base)."""
    out = layer("abcd,cde->abe", (None, 768), "e", (1, 128, 12, 64))
    counted = RULE.count(out)
    assert (counted.params, counted.formula) == (12 * 64 * 768 + 768, "12*64*768 + 768 = 590,592")
    assert RULE.macs(out) == 128 * 12 * 64 * 768


def test_left_ellipsis_is_a_dense_on_the_last_axis():
    dense = layer("...b,bc->...c", (32,), "c", (2, 5, 6, 8))
    shapes = einsum_dense_shapes("...b,bc->...c", (32,), "c", (2, 5, 6, 8))
    assert (shapes.kernel, shapes.bias, shapes.output) == ((8, 32), (32,), (2, 5, 6, 32))
    assert RULE.count(dense).params == 8 * 32 + 32
    assert RULE.macs(dense) == 2 * 5 * 6 * 8 * 32


def test_right_ellipsis_bias_broadcasts_over_the_elided_dims():
    """Keras gives the bias a 1 for each dim "..." covers on the right: (16, 1, 1)."""
    shapes = einsum_dense_shapes("ab...,bc->ac...", (16,), "c", (3, 8, 5, 6))
    assert (shapes.kernel, shapes.bias, shapes.output) == ((8, 16), (16, 1, 1), (3, 16, 5, 6))


def test_bias_from_its_first_biased_label_on():
    """bias_axes "e" of "abc,cde->abde": the bias spans d and e, 1 on the unbiased d."""
    shapes = einsum_dense_shapes("abc,cde->abde", (None, 4, 5), "e", (2, 3, 6))
    assert (shapes.kernel, shapes.bias, shapes.output) == ((6, 4, 5), (5,), (2, 3, 4, 5))
    shapes = einsum_dense_shapes("abc,cde->abde", (None, 4, 5), "d", (2, 3, 6))
    assert shapes.bias == (4, 1)


def test_symbolic_sequence_keeps_counts_and_leaves_macs_open():
    query = layer("bqm,muh->bquh", (None, 4, 16), "", ("batch", "?", 64))
    query.params = [ParamTensor("kernel", (64, 4, 16))]
    check = check_layer(query, batch="batch")
    assert check.status == Status.OK and check.analytic == 64 * 4 * 16
    assert check.macs is None


def test_inconsistent_equations_are_rule_errors():
    with pytest.raises(RuleError, match="is not like"):
        einsum_dense_shapes("ab->b", (4,), "", (2, 3))
    with pytest.raises(RuleError, match="output_shape"):
        einsum_dense_shapes("ab,bc->ac", (4, 5), "", (2, 3))
    with pytest.raises(RuleError, match="3 in the input but 4"):
        einsum_dense_shapes("abc,cd->abd", (4, 7), "", (2, 3, 5))
    with pytest.raises(RuleError, match="not output labels"):
        einsum_dense_shapes("ab,bc->ac", (4,), "b", (2, 3))
    with pytest.raises(RuleError, match="does not fit"):
        einsum_dense_shapes("abc,cd->abd", (None, 4), "", (2, 3))
