"""The smaller rule families against hand-computed values: PReLU, LayerScale, Keras Normalization,
rotary embeddings (the cos/sin table and keras_hub's rotate-the-input layer), functional convolutions,
bare scaled-dot-product attention and CLIP's contrastive head."""

from __future__ import annotations

import pytest

from auditor.ir import Layer
from auditor.rules import RuleError, get_rule


def layer(kind, shapes, **attrs):
    return Layer("x", kind, "test", attrs, list(shapes))


def test_prelu_per_channel_and_keras_shared_axes():
    per_channel = get_rule("prelu").count(layer("prelu", [(1, 64, 8, 8)], num_parameters=64))
    assert (per_channel.params, per_channel.formula) == (64, "64 = 64")
    # Keras PReLU(shared_axes=[1, 2]) on (batch, 8, 8, 64): one alpha per channel
    shared = get_rule("prelu").count(layer("prelu", [("batch", 8, 8, 64)], shared_axes=(1, 2)))
    assert (shared.params, shared.formula) == (64, "1*1*64 = 64")
    # default Keras PReLU: one alpha per input position
    assert get_rule("prelu").count(layer("prelu", [("batch", 8, 8, 3)], shared_axes=())).params == 192
    with pytest.raises(RuleError, match="num_parameters or shared_axes"):
        get_rule("prelu").count(layer("prelu", [(1, 3)]))


def test_layer_scale_counts_its_gamma_and_broadcasts():
    rule = get_rule("scale")
    scaled = layer("scale", [("batch", 56, 56, 96)], shape=(96,))
    assert (rule.count(scaled).params, rule.count(scaled).formula) == (96, "96 = 96")
    assert rule.output_shapes(scaled) == [("batch", 56, 56, 96)]
    assert rule.macs(layer("scale", [(2, 7, 7, 96)], shape=(96,))) == 2 * 7 * 7 * 96


def test_keras_normalization_statistics_are_non_trainable():
    rule = get_rule("input_normalization")
    adapted = rule.count(layer("input_normalization", [("batch", 32, 32, 3)], feature_shape=(3,), stats="params"))
    assert (adapted.params, adapted.trainable) == (7, 0)  # mean 3 + variance 3 + count 1
    assert adapted.formula == "2*3 + 1 (mean, variance, count) = 7"
    given = rule.count(layer("input_normalization", [("batch", 3)], feature_shape=(3,), stats="none"))
    assert given.params == 0
    with pytest.raises(RuleError, match="stats"):
        rule.count(layer("input_normalization", [("batch", 3)], feature_shape=(3,), stats="buffers"))


def test_rotary_embedding_has_buffers_only_and_counts_the_outer_product():
    rule = get_rule("rotary_embedding")
    rope = layer("rotary_embedding", [(1, 128, 4096), (1, 128)], rotary_dim=128, freq_buffers=2)
    counted = rule.count(rope)
    assert (counted.params, counted.buffers) == (0, 2 * 64)
    assert rule.output_shapes(rope) == [(1, 128, 128)]
    assert rule.macs(rope) == 128 * 64
    with pytest.raises(RuleError, match="even"):
        rule.count(layer("rotary_embedding", [(1, 4), (1, 4)], rotary_dim=7))


def test_functional_convolutions_cost_macs_but_own_no_parameters():
    attrs = dict(in_channels=4, out_channels=2, kernel_size=(3, 3), stride=(1, 1), dilation=(1, 1),
                 padding="valid", groups=1, use_bias=False, layout="channels_first")
    op = Layer("f/conv_op#1", "conv_op", "torch.nn.functional.conv2d", attrs, [(1, 4, 8, 8), (2, 4, 3, 3)])
    rule = get_rule("conv_op")
    assert rule.count(op).params == 0
    assert rule.output_shapes(op) == [(1, 2, 6, 6)]
    assert rule.macs(op) == 6 * 6 * 2 * 3 * 3 * 4


def test_sdpa_counts_both_products_per_head():
    rule = get_rule("sdpa")
    attention = layer("sdpa", [(1, 12, 197, 64), (1, 12, 197, 64), (1, 12, 197, 64)])
    assert rule.output_shapes(attention) == [(1, 12, 197, 64)]
    assert rule.macs(attention) == 12 * 197 * 197 * (64 + 64)
    with pytest.raises(RuleError, match="q, k and v"):
        rule.macs(layer("sdpa", [(1, 4, 8)]))


def test_rotary_apply_rotates_every_feature_of_its_input():
    """keras_hub's RotaryEmbedding on (B, L, heads, head_dim): the table L*head_dim/2, then two products per element."""
    rope = layer("rotary_apply", [(1, 128, 32, 128)], sequence_axis=1, feature_axis=-1)
    rule = get_rule("rotary_apply")
    assert rule.count(rope).params == 0 and rule.output_shapes(rope) == [(1, 128, 32, 128)]
    assert rule.macs(rope) == 128 * 64 + 2 * 128 * 32 * 128
    with pytest.raises(RuleError, match="even"):
        rule.output_shapes(layer("rotary_apply", [(1, 4, 7)], sequence_axis=1, feature_axis=-1))


def test_contrastive_head_learns_one_scale_and_compares_every_pair():
    head = layer("contrastive_head", [(4, 512), (6, 512)], learned_scale=True)
    rule = get_rule("contrastive_head")
    assert rule.count(head).params == 1
    assert rule.output_shapes(head) == [(4, 6), (6, 4)]
    assert rule.macs(head) == 4 * 6 * 512 + 4 * 512 + 6 * 512
