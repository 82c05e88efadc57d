"""Conv, conv-transpose and separable-conv rules against hand-computed values and a brute-force window count."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ir import Layer
from auditor.rules import RuleError, get_rule


def conv_layer(cin=32, cout=32, k=(3, 3), stride=None, dilation=None, padding="valid", groups=1, bias=True,
               shape=(1, 32, 12, 12), layout="channels_first", kind="conv", **extra):
    rank = len(k)
    attrs = dict(in_channels=cin, out_channels=cout, kernel_size=tuple(k), stride=stride or (1,) * rank,
                 dilation=dilation or (1,) * rank, padding=padding, groups=groups, use_bias=bias, layout=layout,
                 **extra)
    return Layer("conv", kind, "test", attrs, [shape])


@pytest.mark.parametrize(
    "layer, params, formula",
    [
        # seed 000: conv2d1 and conv2d2 of the Lasagne MNIST CNN
        (conv_layer(1, 32, (5, 5), shape=(1, 1, 28, 28)), 832, "(5*5*1+1)*32 = 832"),
        (conv_layer(32, 32, (3, 3)), 9_248, "(3*3*32+1)*32 = 9,248"),
        # seed 001: the U-Net's first up-conv has a 2x2 kernel, not 3x3
        (conv_layer(1024, 512, (2, 2), shape=(1, 1024, 32, 32), padding="same_upper"), 2_097_664,
         "(2*2*1024+1)*512 = 2,097,664"),
        # seed 003: VGG conv3-256 without biases (the weights-only debate)
        (conv_layer(128, 256, (3, 3), bias=False, shape=(1, 128, 56, 56)), 294_912, "3*3*128*256 = 294,912"),
        # AlexNet's two-tower conv2: groups=2 halves the inputs of each filter
        (conv_layer(96, 256, (5, 5), groups=2, shape=(1, 96, 27, 27)), 307_456, "(5*5*96/2+1)*256 = 307,456"),
        (conv_layer(16, 16, (3,), groups=16, shape=(1, 16, 40)), 64, "(3*16/16+1)*16 = 64"),
        (conv_layer(4, 8, (3, 3, 3), shape=(2, 4, 5, 6, 7)), 872, "(3*3*3*4+1)*8 = 872"),
    ],
)
def test_conv_parameter_formula(layer, params, formula):
    counted = get_rule("conv").count(layer)
    assert counted.params == counted.trainable == params
    assert counted.formula == formula


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(k=(5, 5), cin=1, shape=(1, 1, 28, 28)), (1, 32, 24, 24)),  # seed 000: 28-(5-1) = 24
        (dict(k=(3, 3), padding=((1, 1), (1, 1)), shape=(1, 32, 12, 12)), (1, 32, 12, 12)),
        (dict(k=(11, 11), cin=3, stride=(4, 4), shape=(1, 3, 227, 227)), (1, 32, 55, 55)),  # AlexNet conv1
        (dict(k=(3, 3), stride=(2, 2), padding="same_upper", shape=(1, 32, 13, 13)), (1, 32, 7, 7)),
        (dict(k=(3, 3), dilation=(2, 2), shape=(1, 32, 12, 12)), (1, 32, 8, 8)),
        (dict(k=(3, 3), padding="same_upper", shape=(7, 12, 12, 32), layout="channels_last"), (7, 12, 12, 32)),
        (dict(k=(3,), padding="causal", dilation=(4,), shape=(1, 32, 50)), (1, 32, 50)),
        (dict(k=(3, 3), shape=(32, 12, 12)), (32, 10, 10)),  # unbatched input
        (dict(k=(3, 3), shape=("batch", 32, 12, 12)), ("batch", 32, 10, 10)),
    ],
)
def test_conv_output_shape(kwargs, expected):
    assert get_rule("conv").output_shapes(conv_layer(**kwargs)) == [expected]


def test_conv_macs_count_every_output_element_once():
    layer = conv_layer(1, 32, (5, 5), shape=(1, 1, 28, 28))
    assert get_rule("conv").macs(layer) == 24 * 24 * 32 * 5 * 5 * 1


@pytest.mark.parametrize(
    "layer, message",
    [
        (conv_layer(30, 32, (3, 3), groups=4, shape=(1, 30, 8, 8)), "divide by groups"),
        (conv_layer(16, 32, (3, 3), shape=(1, 32, 8, 8)), "input has 32 channels"),
        (conv_layer(32, 32, (9, 9), shape=(1, 32, 4, 4)), "exceeds padded input"),
    ],
)
def test_conv_inconsistencies_are_rule_errors(layer, message):
    rule = get_rule("conv")
    with pytest.raises(RuleError, match=message):
        rule.count(layer)
        rule.output_shapes(layer)


def brute_force_windows(n: int, k: int, s: int, d: int, pad_begin: int, pad_end: int) -> int:
    """Count window start positions by walking them, as an independent check of the formula."""
    extent = d * (k - 1) + 1
    return sum(1 for start in range(0, n + pad_begin + pad_end, s) if start + extent <= n + pad_begin + pad_end)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3),
    pads=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_output_length_equals_a_brute_force_window_count(n, k, s, d, pads):
    extent = d * (k - 1) + 1
    layer = conv_layer(2, 3, (k,), stride=(s,), dilation=(d,), padding=(pads,), shape=(1, 2, n))
    if extent > n + sum(pads):
        with pytest.raises(RuleError):
            get_rule("conv").output_shapes(layer)
        return
    (shape,) = get_rule("conv").output_shapes(layer)
    assert shape[-1] == brute_force_windows(n, k, s, d, *pads)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 64), k=st.integers(1, 7), s=st.integers(1, 4))
def test_same_padding_gives_ceil_of_n_over_stride(n, k, s):
    layer = conv_layer(2, 3, (k,), stride=(s,), padding="same_upper", shape=(1, 2, n))
    assert get_rule("conv").output_shapes(layer)[0][-1] == math.ceil(n / s)


def test_conv_transpose_counts_and_shapes():
    rule = get_rule("conv_transpose")
    layer = conv_layer(1024, 512, (2, 2), stride=(2, 2), padding=((0, 0), (0, 0)), shape=(1, 1024, 16, 16),
                       kind="conv_transpose", output_padding=(0, 0))
    assert rule.count(layer).params == 2 * 2 * 1024 * 512 + 512
    assert rule.output_shapes(layer) == [(1, 512, 32, 32)]
    assert rule.macs(layer) == 16 * 16 * 1024 * 2 * 2 * 512, "measured on the input"
    grouped = conv_layer(8, 12, (3, 3), groups=4, stride=(2, 2), padding=((1, 1), (1, 1)), shape=(1, 8, 5, 5),
                         kind="conv_transpose", output_padding=(1, 1))
    assert rule.count(grouped).params == 3 * 3 * 8 * 12 // 4 + 12
    assert rule.output_shapes(grouped) == [(1, 12, 10, 10)]  # (5-1)*2 - 2 + 3 + 1


def test_separable_conv_is_depthwise_plus_pointwise():
    layer = conv_layer(32, 64, (3, 3), padding="same_upper", shape=(1, 10, 10, 32), layout="channels_last",
                       kind="separable_conv", depth_multiplier=2)
    counted = get_rule("separable_conv").count(layer)
    assert counted.params == 3 * 3 * 32 * 2 + 32 * 2 * 64 + 64
    assert counted.formula == "3*3*32*2 + 32*2*64 + 64 = 4,736"
    assert get_rule("separable_conv").output_shapes(layer) == [(1, 10, 10, 64)]
