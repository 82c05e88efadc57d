"""Embedding rule: counts and shapes against hand values and PyTorch's nn.Embedding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.count import Status, check_layer
from auditor.ir import Layer
from auditor.rules import get_rule


def test_gpt2_token_table():
    layer = Layer("wte", "embedding", "test", {"num_embeddings": 50257, "embedding_dim": 768}, [(1, 16)])
    counted = get_rule("embedding").count(layer)
    assert (counted.params, counted.formula) == (38_597_376, "50257*768 = 38,597,376")
    assert get_rule("embedding").output_shapes(layer) == [(1, 16, 768)]


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
