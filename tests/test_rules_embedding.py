"""Embedding rule: counts and shapes against hand values and PyTorch's nn.Embedding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.count import Status, check_layer
from auditor.ir import Layer
from auditor.rules import RuleError, get_rule


def test_gpt2_token_table():
    layer = Layer("wte", "embedding", "test", {"num_embeddings": 50257, "embedding_dim": 768}, [(1, 16)])
    counted = get_rule("embedding").count(layer)
    assert (counted.params, counted.formula) == (38_597_376, "50257*768 = 38,597,376")
    assert get_rule("embedding").output_shapes(layer) == [(1, 16, 768)]


def test_untied_reversible_embedding_owns_a_second_matrix():
    """Llama-2-7B's Keras token embedding: 32000x4096 in, an untied 4096x32000 reverse projection out."""
    attrs = {"num_embeddings": 32000, "embedding_dim": 4096, "reverse_projection": True}
    counted = get_rule("embedding").count(Layer("tok", "embedding", "test", attrs, [(1, 16)]))
    assert (counted.params, counted.formula) == (
        262_144_000, "32000*4096 + 4096*32000 (reverse projection) = 262,144,000")


def test_position_embedding_keeps_the_input_shape():
    layer = Layer("pos", "position_embedding", "test", {"num_embeddings": 512, "embedding_dim": 768},
                  [(1, 128, 768)])
    assert get_rule("position_embedding").count(layer).params == 393_216
    assert get_rule("position_embedding").output_shapes(layer) == [(1, 128, 768)]
    assert get_rule("position_embedding").macs(layer) == 0
    with pytest.raises(RuleError, match="129 positions exceed the table's 128"):
        get_rule("position_embedding").macs(
            Layer("pos", "position_embedding", "test", {"num_embeddings": 128, "embedding_dim": 8}, [(1, 129, 8)]))
    with pytest.raises(RuleError, match="768 features but embedding_dim=64"):
        get_rule("position_embedding").output_shapes(
            Layer("pos", "position_embedding", "test", {"num_embeddings": 8, "embedding_dim": 64}, [(1, 4, 768)]))


def test_class_token_and_clip_position_ids():
    vit = Layer("emb", "class_token", "test", {"tokens": 1, "width": 768}, [(1, 224, 224, 3)])
    assert get_rule("class_token").count(vit).params == 768
    clip = get_rule("class_token").count(
        Layer("emb", "class_token", "test", {"tokens": 1, "width": 768, "position_ids": 197}, []))
    assert (clip.params, clip.trainable, clip.formula) == (965, 768, "1*768 + 197 (position ids) = 965")


torch = pytest.importorskip("torch")


@settings(max_examples=200, deadline=None)
@given(num=st.integers(1, 500), dim=st.integers(1, 64), index_shape=st.lists(st.integers(1, 5), max_size=3),
       padding=st.booleans())
def test_pytorch_embedding(num, dim, index_shape, padding):
    from adapters.torch import from_module

    module = torch.nn.Embedding(num, dim, padding_idx=0 if padding else None, device="meta")
    ir = from_module(module, input_shape=tuple(index_shape), input_dtype="int64")
    (check,) = [check_layer(layer) for layer in ir.layers]
    assert check.status == Status.OK
    assert check.analytic == num * dim == module.weight.numel()
    assert check.analytic_output_shape == (*index_shape, dim) == ir.layers[0].output_shapes[0]
