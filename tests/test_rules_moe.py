"""The mixture-of-experts rule against hand formulas (Mixtral-8x7B's published figures in
tests/adapters/test_torch_moe.py)."""

from __future__ import annotations

import pytest

from auditor.count import check_layer
from auditor.ir import Layer, ParamTensor
from auditor.rules import RuleError, get_rule


def moe(**attrs) -> Layer:
    base = {"hidden_size": 16, "num_experts": 4, "top_k": 2, "expert_size": 8}
    return Layer("moe", "moe", "test", {**base, **attrs}, [(1, 5, 16)])


def test_gated_experts_with_router_only():
    counted = get_rule("moe").count(moe())
    expert = 3 * 16 * 8
    assert counted.params == 4 * 16 + 4 * expert and counted.active == 4 * 16 + 2 * expert
    assert counted.formula == "4*16 (router) + 4*3*16*8 (experts) = 1,600; active per token 4*16 (router) + 2*3*16*8 (experts) = 832"


def test_shared_expert_gate_biases_and_correction_buffer():
    counted = get_rule("moe").count(moe(shared_size=12, shared_gate=True, expert_bias=True, router_bias=True,
                                        router_correction=True, gated=False))
    expert = 2 * 16 * 8 + (8 + 16)  # up, down and their biases
    shared = 2 * 16 * 12 + (12 + 16) + 16  # the shared MLP, its biases and its gate
    router = 4 * 16 + 4
    assert (counted.params, counted.active, counted.buffers) == (router + 4 * expert + shared, router + 2 * expert + shared, 4)


def test_macs_per_token_route_to_top_k_and_output_keeps_the_shape():
    rule = get_rule("moe")
    layer = moe(shared_size=12, shared_gate=True)
    assert rule.macs(layer) == 5 * (16 * 4 + 2 * 3 * 16 * 8 + 3 * 16 * 12 + 16)
    assert rule.output_shapes(layer) == [(1, 5, 16)]


def test_inconsistent_sizes_are_rule_errors():
    with pytest.raises(RuleError):
        get_rule("moe").count(moe(top_k=5))
    with pytest.raises(RuleError):
        get_rule("moe").output_shapes(Layer("m", "moe", "t", moe().attrs, [(1, 5, 15)]))


def test_check_reports_a_missing_shared_expert_as_a_param_mismatch():
    params = [ParamTensor("w", (1600,))]
    check = check_layer(Layer("moe", "moe", "test", moe(shared_size=12).attrs, [(1, 5, 16)], [(1, 5, 16)], params))
    assert [f.code for f in check.findings] == ["param_count"]
