"""Attention rules: PyTorch MultiheadAttention counts and MACs, and bare scaled-dot-product attention."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.count import Status, check_layer
from auditor.ir import Layer
from auditor.rules import get_rule


def test_bert_base_self_attention_count():
    attrs = dict(query_dim=768, key_dim=768, value_dim=768, num_heads=12, head_dim=64, value_head_dim=64,
                 output_dim=768, use_bias=True, out_bias=True, add_bias_kv=False, batch_first=True)
    layer = Layer("attn", "attention", "test", attrs, [(1, 128, 768)] * 3)
    assert get_rule("attention").count(layer).params == 4 * (768 * 768 + 768)


def test_sdpa_macs_are_the_two_products():
    layer = Layer("sdpa", "sdpa", "test", {}, [(1, 12, 197, 64)] * 3)
    assert get_rule("sdpa").macs(layer) == 12 * 197 * 197 * (64 + 64)
    assert get_rule("sdpa").output_shapes(layer) == [(1, 12, 197, 64)]


def test_a_causal_sdpa_caches_its_keys_and_values_per_kv_head_and_window():
    from auditor.rules.saved import CachedKeysValues

    rule = get_rule("sdpa")
    q, kv = (2, 8, 100, 64), (2, 8, 100, 32)
    assert rule.cached_keys_values(Layer("s", "sdpa", "t", {}, [q, kv, kv])) is None  # not causal: an encoder
    assert rule.cached_keys_values(Layer("s", "sdpa", "t", {"is_causal": True}, [q, kv, kv])) == \
        CachedKeysValues(2, 8, 100, 32, 32)
    repeated = Layer("s", "sdpa", "t", {"is_causal": True, "kv_groups": 4, "sliding_window": 16}, [q, q, q])
    assert rule.cached_keys_values(repeated) == CachedKeysValues(2, 2, 15, 64, 64)  # keys repeated 4x: 2 heads
    assert rule.cached_keys_values(Layer("s", "sdpa", "t", {"is_causal": True}, [q, (2, 8, "L", 64), kv])) is None
    assert get_rule("dense").cached_keys_values(Layer("d", "dense", "t", {}, [(1, 4)])) is None


def attention(shapes, **attrs):
    base = dict(use_bias=False, out_bias=False, add_bias_kv=False, batch_first=True)
    return Layer("attn", "attention", "test", base | attrs, shapes)


def test_grouped_query_attention_llama_2_70b_block():
    """Llama-2-70B: hidden 8192, 64 query heads of 128, 8 key/value heads, no biases."""
    layer = attention([(1, 4096, 8192)], query_dim=8192, key_dim=8192, value_dim=8192, num_heads=64, kv_heads=8,
                      head_dim=128, value_head_dim=128, output_dim=8192, self_attention=True)
    counted = get_rule("attention").count(layer)
    assert counted.params == 2 * 8192 * 8192 + 2 * 8192 * 1024 == 150_994_944
    assert counted.formula.startswith("8192*64*128 + 8192*8*128 + 8192*8*128 + 64*128*8192")
    projections = 4096 * (2 * 8192 * 8192 + 2 * 8192 * 1024)
    products = 64 * 4096 * 4096 * (128 + 128)
    assert get_rule("attention").macs(layer) == projections + products


def test_keras_attention_axes_attend_over_both_image_axes():
    """A (B, 8, 8, C) input with attention_axes (1, 2) attends over 64 positions, not 8."""
    layer = attention([(2, 8, 8, 16)] * 2, query_dim=16, key_dim=16, value_dim=16, num_heads=2, head_dim=4,
                      value_head_dim=4, output_dim=16, attention_axes=(1, 2))
    projections = 2 * 64 * 4 * 16 * 2 * 4
    assert get_rule("attention").macs(layer) == projections + 2 * 64 * 2 * 64 * (4 + 4)
    assert get_rule("attention").output_shapes(layer) == [(2, 8, 8, 16)]


def test_keras_gate_and_multi_dim_output():
    """use_gate adds a query-width gate projection; output_shape (2, 3) gives 6 outputs in two dims."""
    layer = attention([(1, 5, 8), (1, 7, 8)], query_dim=8, key_dim=8, value_dim=8, num_heads=2, head_dim=4,
                      value_head_dim=3, output_dim=6, output_dims=(2, 3), gate=True, use_bias=True, out_bias=True)
    counted = get_rule("attention").count(layer)
    assert counted.params == 9 * 2 * 4 * 2 + 9 * 2 * 3 + (2 * 3 + 1) * 6 + 9 * 2 * 3
    assert "(8+1)*2*3 (gate)" in counted.formula
    assert get_rule("attention").output_shapes(layer) == [(1, 5, 2, 3)]
    projections = 5 * 8 * 2 * 4 + 7 * 8 * 2 * 4 + 7 * 8 * 2 * 3 + 5 * 2 * 3 * 6 + 5 * 8 * 2 * 3
    assert get_rule("attention").macs(layer) == projections + 5 * 2 * 7 * (4 + 3)


torch = pytest.importorskip("torch")


@settings(max_examples=200, deadline=None)
@given(
    heads=st.integers(1, 4), head_dim=st.integers(1, 8), kdim=st.integers(1, 24), vdim=st.integers(1, 24),
    same_kv=st.booleans(), bias=st.booleans(), add_bias_kv=st.booleans(), batch_first=st.booleans(),
    lq=st.integers(1, 6), lk=st.integers(1, 6), batch=st.integers(1, 3),
)
def test_pytorch_multihead_attention(heads, head_dim, kdim, vdim, same_kv, bias, add_bias_kv, batch_first, lq,
                                     lk, batch):
    from torch.utils.flop_counter import FlopCounterMode

    from adapters.torch import from_module

    embed = heads * head_dim
    kdim, vdim = (embed, embed) if same_kv else (kdim, vdim)
    module = torch.nn.MultiheadAttention(embed, heads, bias=bias, add_bias_kv=add_bias_kv, kdim=kdim, vdim=vdim,
                                         batch_first=batch_first, device="meta")

    def make(length, width):
        return torch.empty(*((batch, length) if batch_first else (length, batch)), width, device="meta")

    q, k, v = make(lq, embed), make(lk, kdim), make(lk, vdim)
    (check,) = [check_layer(layer) for layer in from_module(module, example_inputs=(q, k, v)).layers]
    assert check.status == Status.OK, (check.note, [f.message for f in check.findings])
    assert check.analytic == sum(p.numel() for p in module.parameters())
    if not add_bias_kv:  # bias_k/bias_v add one key position the rule does not model
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(q, k, v, need_weights=False)
        assert check.macs == counter.get_total_flops() // 2


@settings(max_examples=100, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=2), lq=st.integers(1, 8), lk=st.integers(1, 8),
       dk=st.integers(1, 8), dv=st.integers(1, 8))
def test_functional_sdpa_is_recorded_with_its_macs(lead, lq, lk, dk, dv):
    """F.scaled_dot_product_attention inside a forward becomes an `sdpa` layer at that module."""
    from torch.utils.flop_counter import FlopCounterMode

    from adapters.torch import from_module

    class Attend(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    q = torch.empty(*lead, lq, dk, device="meta")
    k, v = torch.empty(*lead, lk, dk, device="meta"), torch.empty(*lead, lk, dv, device="meta")
    ir = from_module(Attend(), example_inputs=(q, k, v))
    (check,) = [check_layer(layer) for layer in ir.layers]
    assert check.kind == "sdpa" and check.path == "sdpa#1"
    with FlopCounterMode(display=False) as counter:
        Attend()(q, k, v)
    assert check.macs == counter.get_total_flops() // 2
    assert check.analytic_output_shape == (*lead, lq, dv)
