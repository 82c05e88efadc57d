"""Mixture-of-experts blocks: a router, routed experts (top-k of them run per token), shared experts.

Canonical attrs: hidden_size H, num_experts E, top_k k, expert_size I (each routed expert's inner
width), gated (True: gate, up and down matrices, SwiGLU-style; False: up and down), expert_bias,
router_bias (a bias vector on the router's E logits), router_correction (DeepSeek-V3's per-expert
score-correction bias, a buffer of E elements), shared_size (the inner width of the
always-active shared expert(s), 0 for none; several shared experts of width w count as one of width
n*w), shared_gate (Qwen2-MoE's sigmoid gate on the shared expert: one H-vector).
Parameters: router E*H (+E) + E experts * (3*H*I, or 2*H*I) (+ biases) + shared (3*H*S) + gate H.
Active parameters per token: the same with k experts instead of E (the router and shared parts
always run).  MACs per token: H*E (router) + k*(3 or 2)*H*I + (3 or 2)*H*S + H (gate); the output
has the input's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, attr, first_input, fmt, static_numel
from auditor.rules.registry import register


@dataclass(frozen=True)
class _Parts:
    """Parameter counts of one MoE block's parts, and how a person writes each."""

    router: tuple[int, str]
    expert: tuple[int, str]
    shared: tuple[int, str]
    experts: int
    top_k: int

    def total(self, experts: int) -> int:
        return self.router[0] + experts * self.expert[0] + self.shared[0]

    def text(self, experts: int) -> str:
        parts = [f"{self.router[1]} (router)", f"{experts}*{self.expert[1]} (experts)"]
        if self.shared[0]:
            parts.append(f"{self.shared[1]} (shared)")
        return " + ".join(parts)


def _mlp(hidden: int, inner: int, gated: bool, bias: bool) -> tuple[int, str]:
    """One expert MLP: 3 (gated) or 2 matrices of H*I, plus a bias per output when `bias`."""
    matrices = 3 if gated else 2
    weights = matrices * hidden * inner
    biases = ((2 if gated else 1) * inner + hidden) if bias else 0
    text = f"{matrices}*{hidden}*{inner}" + (f"+{biases}" if biases else "")
    return weights + biases, f"({text})" if biases else text


def _parts(layer: Layer) -> _Parts:
    hidden, experts = int(attr(layer, "hidden_size")), int(attr(layer, "num_experts"))
    top_k, inner = int(attr(layer, "top_k")), int(attr(layer, "expert_size"))
    if min(hidden, experts, top_k, inner) < 1 or top_k > experts:
        raise RuleError(f"moe needs 1 <= top_k <= num_experts and positive sizes: {layer.attrs}")
    gated = bool(layer.attrs.get("gated", True))
    router_bias = experts if layer.attrs.get("router_bias", False) else 0
    router = (experts * hidden + router_bias, f"{experts}*{hidden}" + (f"+{experts}" if router_bias else ""))
    shared_size = int(layer.attrs.get("shared_size", 0) or 0)
    shared, shared_text = _mlp(hidden, shared_size, gated, bool(layer.attrs.get("expert_bias", False)))
    if not shared_size:
        shared, shared_text = 0, ""
    if layer.attrs.get("shared_gate", False):
        shared, shared_text = shared + hidden, f"{shared_text} + {hidden} (shared gate)"
    expert = _mlp(hidden, inner, gated, bool(layer.attrs.get("expert_bias", False)))
    return _Parts(router, expert, (shared, shared_text), experts, top_k)


class MoERule(Rule):
    """Router + E routed experts (k active per token) + shared experts; see the module docstring."""

    kind = "moe"
    perturbable = ("num_experts", "expert_size", "shared_size", "gated", "expert_bias", "router_bias", "shared_gate")

    def count(self, layer: Layer) -> ParamCount:
        parts = _parts(layer)
        total, active = parts.total(parts.experts), parts.total(parts.top_k)
        buffers = parts.experts if layer.attrs.get("router_correction", False) else 0
        formula = f"{parts.text(parts.experts)} = {fmt(total)}; active per token {parts.text(parts.top_k)} = {fmt(active)}"
        if buffers:
            formula += f"  (+ buffers {buffers}: router score correction)"
        return ParamCount(total, total, formula, buffers, active=active)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        hidden = int(attr(layer, "hidden_size"))
        if shape and isinstance(shape[-1], int) and shape[-1] != hidden:
            raise RuleError(f"input has {shape[-1]} features but the block's hidden_size is {hidden}")
        return [shape]

    def macs(self, layer: Layer) -> int:
        parts = _parts(layer)
        hidden = int(attr(layer, "hidden_size"))
        tokens = static_numel(first_input(layer)[:-1], "number of tokens")
        gated = bool(layer.attrs.get("gated", True))
        inner, shared = int(attr(layer, "expert_size")), int(layer.attrs.get("shared_size", 0) or 0)
        matrices = 3 if gated else 2
        per_token = hidden * parts.experts + parts.top_k * matrices * hidden * inner + matrices * hidden * shared
        return tokens * (per_token + (hidden if layer.attrs.get("shared_gate", False) else 0))

    def describe(self, layer: Layer) -> str:
        return f"top-{layer.attrs.get('top_k')} of {layer.attrs.get('num_experts')} experts"


register(MoERule())
