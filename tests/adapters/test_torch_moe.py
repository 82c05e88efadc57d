"""Mixture-of-experts models: total and active parameters per token, MACs of the routed top-k.

Mixtral-8x7B's published figures (46.7 B total, 12.9 B active) from its config on meta; Qwen2-MoE
(shared expert and its gate), Qwen3-MoE and DeepSeek-V3 (shared experts, score-correction buffer,
dense first layer) from small configs against sum(numel) and FlopCounterMode on an eager CPU run;
and a user's own MoE registered with `register_module`.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
nn = torch.nn

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import auditor  # noqa: E402
from adapters import torch_fallback  # noqa: E402
from adapters.torch import register_module, unregister_module  # noqa: E402
from auditor.count import Status  # noqa: E402


def test_mixtral_8x7b_total_and_active_parameters_on_meta():
    with torch.device("meta"):
        model = transformers.MixtralForCausalLM(transformers.MixtralConfig())
    audit = auditor.audit(model, input_shape=(1, 16), input_dtype="int64")
    assert audit.totals.reported == 46_702_792_704 == sum(p.numel() for p in model.parameters())
    assert audit.totals.active == 12_879_925_248
    assert audit.totals.mismatches == 0 and audit.totals.unverified == 0 and audit.totals.macs_complete
    moe = [c for c in audit.checks if c.kind == "moe"]
    assert len(moe) == 32 and moe[0].macs == 16 * (4096 * 8 + 2 * 3 * 4096 * 14336)
    assert moe[0].layer.output_shapes == [(1, 16, 4096)]
    # traced as torch.export traces it, transformers' experts take a path meta tensors run: no fallback needed
    assert audit.model.notes == ["shapes and MACs from one forward pass on the model's own meta tensors "
                                 "(nothing copied or allocated)"]


SMALL = dict(hidden_size=64, intermediate_size=96, moe_intermediate_size=32, num_hidden_layers=2,
             num_attention_heads=4, vocab_size=100, num_experts_per_tok=2)


def _qwen2():
    config = transformers.Qwen2MoeConfig(**SMALL, num_key_value_heads=2, shared_expert_intermediate_size=48,
                                         num_experts=6)
    return transformers.Qwen2MoeForCausalLM(config), 4 * 3 * 64 * 32  # 4 experts not routed to, per layer


def _qwen3():
    config = transformers.Qwen3MoeConfig(**SMALL, num_key_value_heads=2, num_experts=6, head_dim=16)
    return transformers.Qwen3MoeForCausalLM(config), 4 * 3 * 64 * 32


def _deepseek():
    config = transformers.DeepseekV3Config(
        **{**SMALL, "num_hidden_layers": 3}, num_key_value_heads=4, first_k_dense_replace=1, n_routed_experts=8,
        n_shared_experts=1, n_group=2, topk_group=1, q_lora_rank=32, kv_lora_rank=16, qk_rope_head_dim=8,
        qk_nope_head_dim=8, v_head_dim=8)
    return transformers.DeepseekV3ForCausalLM(config), 6 * 3 * 64 * 32


@pytest.mark.parametrize("build", [_qwen2, _qwen3, _deepseek], ids=["qwen2-moe", "qwen3-moe", "deepseek-v3"])
def test_moe_blocks_are_verified_and_their_macs_match_an_eager_run(build):
    torch.manual_seed(0)
    model, inactive_per_layer = build()
    model.eval()
    audit = auditor.audit(model, input_shape=(1, 8), input_dtype="int64")
    moe = [c for c in audit.checks if c.kind == "moe"]
    assert audit.totals.reported == sum(p.numel() for p in model.parameters())
    assert all(c.status == Status.OK for c in moe) and audit.totals.unverified == 0
    assert audit.totals.active == audit.totals.reported - len(moe) * inactive_per_layer
    model.set_experts_implementation("eager")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.ones(1, 8, dtype=torch.long), use_cache=False)
    per_module = counter.get_flop_counts()
    for check in moe:
        key = f"{type(model).__name__}.{check.path}"
        assert check.macs == sum(per_module[key].values()) // 2, check.path


class Expert(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate, self.up = nn.Linear(hidden, inner, bias=False), nn.Linear(hidden, inner, bias=False)
        self.down = nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


class MyMoE(nn.Module):
    """A user's own MoE: a ModuleList of experts, a routing loop on nonzero (data-dependent sizes)."""

    def __init__(self, hidden=32, inner=64, experts=8, top_k=2):
        super().__init__()
        self.top_k, self.hidden, self.inner = top_k, hidden, inner
        self.router = nn.Linear(hidden, experts, bias=False)
        self.experts = nn.ModuleList(Expert(hidden, inner) for _ in range(experts))

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        weights, chosen = self.router(flat).softmax(-1).topk(self.top_k, dim=-1)
        out = torch.zeros_like(flat)
        for index, expert in enumerate(self.experts):
            rows, slot = (chosen == index).nonzero(as_tuple=True)
            out.index_add_(0, rows, expert(flat[rows]) * weights[rows, slot, None])
        return out.reshape(x.shape)


def moe_attrs(m: MyMoE) -> dict:
    return {"hidden_size": m.hidden, "num_experts": len(m.experts), "top_k": m.top_k, "expert_size": m.inner}


@pytest.fixture
def registered():
    register_module(MyMoE, "moe", moe_attrs)
    yield
    unregister_module(MyMoE)


def test_a_users_own_moe_registers_as_one_layer_and_the_pass_goes_past_it(registered, monkeypatch):
    monkeypatch.setattr(torch_fallback, "REAL_RUN_LIMIT", 0)  # as if it were too large to run for real
    model = nn.Sequential(nn.Linear(16, 32), MyMoE(), nn.Linear(32, 4))
    audit = auditor.audit(model, input_shape=(2, 5, 16))
    moe = audit.checks[1]
    expert = 3 * 32 * 64
    assert (moe.kind, moe.status, moe.reported) == ("moe", Status.OK, 8 * 32 + 8 * expert)
    assert audit.totals.active == audit.totals.reported - 6 * expert
    assert moe.macs == 10 * (32 * 8 + 2 * expert)
    assert audit.checks[2].macs == 10 * 32 * 4 and audit.totals.macs_complete
    assert any("`1` (MyMoE) could not run on meta" in n and "took its output shape from its rule" in n
               for n in audit.model.notes), audit.model.notes
