"""Dense and matmul rules: hand-computed counts, N-d inputs, numpy matmul shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ir import Layer
from auditor.rules import RuleError, get_rule


def dense(fin, fout, bias=True, shape=None, **extra):
    attrs = dict(in_features=fin, out_features=fout, use_bias=bias, **extra)
    return Layer("fc", "dense", "test", attrs, [shape or (1, fin)])


@pytest.mark.parametrize(
    "layer, params, formula",
    [
        (dense(800, 256, flattened_from=(32, 5, 5)), 205_056, "(32*5*5+1)*256 = 205,056"),  # seed 000
        (dense(256, 10), 2_570, "(256+1)*10 = 2,570"),
        (dense(25088, 4096, flattened_from=(512, 7, 7)), 102_764_544, "(512*7*7+1)*4096 = 102,764,544"),  # VGG fc1
        (dense(4096, 1000, bias=False), 4_096_000, "4096*1000 = 4,096,000"),
        (dense(800, 10, flattened_from=(3, 3)), 8_010, "(800+1)*10 = 8,010"),  # a hint that does not fit is ignored
    ],
)
def test_dense_parameter_formula(layer, params, formula):
    counted = get_rule("dense").count(layer)
    assert (counted.params, counted.formula) == (params, formula)


def test_dense_applies_to_the_last_axis_of_any_rank():
    layer = dense(64, 32, shape=("batch", 10, 7, 64))
    assert get_rule("dense").output_shapes(layer) == [("batch", 10, 7, 32)]
    fixed = dense(64, 32, shape=(2, 10, 7, 64))
    assert get_rule("dense").macs(fixed) == 2 * 10 * 7 * 64 * 32


def test_dense_input_width_must_match():
    with pytest.raises(RuleError, match="input has 100 features"):
        get_rule("dense").count(dense(800, 10, shape=(1, 100)))


@settings(max_examples=200, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), max_size=2), n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5),
    a_vector=st.booleans(), b_vector=st.booleans(),
)
def test_matmul_shape_and_macs_agree_with_numpy(batch, n, k, m, a_vector, b_vector):
    a_shape = (k,) if a_vector else (*batch, n, k)
    b_shape = (k,) if b_vector else (k, m)
    layer = Layer("mm", "matmul", "test", {}, [a_shape, b_shape])
    expected = np.matmul(np.ones(a_shape), np.ones(b_shape))
    (shape,) = get_rule("matmul").output_shapes(layer)
    assert shape == expected.shape
    assert get_rule("matmul").macs(layer) == expected.size * k
