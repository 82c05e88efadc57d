"""Weight-free rules: flatten, reshape, concat, broadcasting, transpose, pad, pass-through."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ir import Layer
from auditor.rules import RuleError, get_rule


def layer(kind, shapes, **attrs):
    return Layer("x", kind, "test", attrs, list(shapes))


@pytest.mark.parametrize(
    "attrs, shape, expected",
    [
        ({"start_axis": 1, "end_axis": -1}, (1, 32, 5, 5), (1, 800)),
        ({"start_axis": 2, "end_axis": 3}, (2, 3, 4, 5, 6), (2, 3, 20, 6)),
        ({"mode": "2d", "axis": 2}, (2, 3, 4, 5), (6, 20)),
        ({"mode": "2d", "axis": 0}, (2, 3), (1, 6)),
        ({"start_axis": 1, "end_axis": -1}, ("batch", 32, 5, 5), ("batch", 800)),
    ],
)
def test_flatten(attrs, shape, expected):
    assert get_rule("flatten").output_shapes(layer("flatten", [shape], **attrs)) == [expected]


@pytest.mark.parametrize(
    "attrs, shape, expected",
    [
        ({"shape": (-1, 800)}, (1, 32, 5, 5), (1, 800)),
        ({"shape": (0, -1)}, (4, 32, 5, 5), (4, 800)),
        ({"shape": (8, 8), "keep_leading": 1}, ("batch", 64), ("batch", 8, 8)),
        ({"shape": (0, 3), "allowzero": True}, (0, 5), (0, 3)),
    ],
)
def test_reshape(attrs, shape, expected):
    assert get_rule("reshape").output_shapes(layer("reshape", [shape], **attrs)) == [expected]


def test_reshape_refuses_a_different_element_count():
    with pytest.raises(RuleError, match="cannot reshape"):
        get_rule("reshape").output_shapes(layer("reshape", [(1, 800)], shape=(1, 799)))


def test_concat_adds_the_axis_and_the_unet_merge_doubles_channels():
    merged = layer("concat", [(1, 32, 32, 512), (1, 32, 32, 512)], axis=3)
    assert get_rule("concat").output_shapes(merged) == [(1, 32, 32, 1024)]
    with pytest.raises(RuleError):
        get_rule("concat").output_shapes(layer("concat", [(1, 2), (1, 2, 3)], axis=1))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1, 2, 3]), min_size=0, max_size=3), min_size=1, max_size=3))
def test_elementwise_broadcasting_agrees_with_numpy(shapes):
    shapes = [tuple(s) for s in shapes]
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        with pytest.raises(RuleError):
            get_rule("elementwise").output_shapes(layer("elementwise", shapes, op="Add"))
        return
    assert get_rule("elementwise").output_shapes(layer("elementwise", shapes, op="Add")) == [expected]


def test_transpose_pad_and_pass_through():
    assert get_rule("transpose").output_shapes(layer("transpose", [(2, 3, 4)], perm=(2, 0, 1))) == [(4, 2, 3)]
    with pytest.raises(RuleError, match="not a permutation"):
        get_rule("transpose").output_shapes(layer("transpose", [(2, 3)], perm=(0, 0)))
    padded = layer("pad", [(1, 3, 28, 28)], pads=((0, 0), (0, 0), (1, 1), (2, 0)))
    assert get_rule("pad").output_shapes(padded) == [(1, 3, 30, 30)]
    for kind in ("activation", "dropout", "softmax", "identity"):
        assert get_rule(kind).output_shapes(layer(kind, [(1, 7)])) == [(1, 7)]
        assert get_rule(kind).count(layer(kind, [(1, 7)])).params == 0
