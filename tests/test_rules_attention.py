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
