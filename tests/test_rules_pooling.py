"""Pooling and resize rules: the window formula with ceil mode, global and adaptive pooling, upsampling."""

from __future__ import annotations

import pytest

from auditor.ir import Layer
from auditor.rules import get_rule


def pool(k, s, shape, padding="valid", ceil_mode=False, layout="channels_first"):
    attrs = dict(op="max", kernel_size=k, stride=s, dilation=(1,) * len(k), padding=padding, ceil_mode=ceil_mode,
                 layout=layout)
    return Layer("p", "pool", "test", attrs, [shape])


@pytest.mark.parametrize(
    "layer, expected",
    [
        (pool((2, 2), (2, 2), (1, 32, 24, 24)), (1, 32, 12, 12)),  # seed 000 maxpool1
        (pool((3, 3), (2, 2), (1, 96, 55, 55)), (1, 96, 27, 27)),  # AlexNet MaxPool1
        (pool((2, 2), (2, 2), (1, 64, 7, 7), ceil_mode=True), (1, 64, 4, 4)),
        (pool((3, 3), (2, 2), (1, 64, 6, 6), padding=((1, 1), (1, 1)), ceil_mode=True), (1, 64, 4, 4)),
        (pool((2, 2), (2, 2), (1, 256, 256, 64), layout="channels_last"), (1, 128, 128, 64)),
        (pool((3, 3), (2, 2), (1, 8, 8, 8), padding="same_upper", layout="channels_last"), (1, 4, 4, 8)),
    ],
)
def test_pool_output_shape(layer, expected):
    assert get_rule("pool").output_shapes(layer) == [expected]
    assert get_rule("pool").count(layer).params == 0 and get_rule("pool").macs(layer) == 0


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # PyTorch: MaxPool2d(2, 2, padding=1, ceil_mode=True) on 5x5 -> 3x3, not 4x4
    assert get_rule("pool").output_shapes(pool((2, 2), (2, 2), (1, 1, 5, 5), ((1, 1), (1, 1)), True)) == [(1, 1, 3, 3)]


def test_global_and_adaptive_pooling_and_resize():
    gap = Layer("g", "global_pool", "t", dict(op="avg", spatial_rank=2, keepdims=False, layout="channels_last"),
                [(2, 7, 7, 2048)])
    assert get_rule("global_pool").output_shapes(gap) == [(2, 2048)]
    kept = Layer("g", "global_pool", "t", dict(op="avg", spatial_rank=2, keepdims=True, layout="channels_first"),
                 [(2, 512, 7, 7)])
    assert get_rule("global_pool").output_shapes(kept) == [(2, 512, 1, 1)]
    adaptive = Layer("a", "adaptive_pool", "t", dict(op="avg", output_size=(6, None), layout="channels_first"),
                     [(1, 256, 13, 9)])
    assert get_rule("adaptive_pool").output_shapes(adaptive) == [(1, 256, 6, 9)]
    up = Layer("u", "resize", "t", dict(scale=(2, 2), layout="channels_last"), [("batch", 16, 16, 1024)])
    assert get_rule("resize").output_shapes(up) == [("batch", 32, 32, 1024)]
    sized = Layer("u", "resize", "t", dict(size=(224, 224), layout="channels_first"), [(1, 3, 100, 80)])
    assert get_rule("resize").output_shapes(sized) == [(1, 3, 224, 224)]
