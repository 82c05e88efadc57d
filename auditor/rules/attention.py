"""Multi-head attention (PyTorch MultiheadAttention, Keras MultiHeadAttention) and bare SDPA.

attention attrs: query_dim, key_dim, value_dim (input feature widths), num_heads, head_dim (per
head, queries and keys), value_head_dim, output_dim, use_bias (q/k/v projection biases), out_bias,
add_bias_kv (PyTorch's learned bias_k, bias_v: one key-width and one value-width vector), batch_first.
PyTorch maps to head_dim = value_head_dim = embed_dim/num_heads and output_dim = embed_dim.
Parameters: projections query_dim*h*dk, key_dim*h*dk, value_dim*h*dv, h*dv*output_dim, plus biases.
MACs: the four projections plus the two products Q·Kᵀ (h*Lq*Lk*dk) and A·V (h*Lq*Lk*dv); softmax
and scaling excluded.  sdpa (scaled_dot_product_attention on q, k, v): the two products only.
sdpa attrs (optional): dropout_p, is_causal, has_mask, enable_gqa.  Saved for backward: a fused
kernel (flash / memory-efficient) keeps q, k, v, its output and the softmax's log-sum-exp per query;
PyTorch's math fallback (CPU with dropout, CUDA when no fused kernel applies) keeps the scaled q and
kᵀ, the attention probabilities, the dropout mask and the dropped probabilities, and v.
"""

from __future__ import annotations

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, static, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import (
    INPUT,
    SaveContext,
    SavedTensor,
    as_computed,
    computes_in,
    dtype_of,
    fact,
    new_tensor,
    saved_input,
    saved_output,
)
from auditor.rules.shapes import batch_dims_merge

FUSED_CUDA_FLASH_DTYPES = ("float16", "bfloat16")
MAX_FLASH_HEAD_DIM = 256


def _dims(layer: Layer) -> tuple[int, int, int, int, int, int, int]:
    """(query_dim, key_dim, value_dim, heads, head_dim, value_head_dim, output_dim)."""
    names = ("query_dim", "key_dim", "value_dim", "num_heads", "head_dim", "value_head_dim", "output_dim")
    values = tuple(int(attr(layer, n)) for n in names)
    if min(values) < 1:
        raise RuleError(f"attention dims must be >= 1: {dict(zip(names, values))}")
    return values  # type: ignore[return-value]


def _lengths(layer: Layer) -> tuple[int, int, int]:
    """(batch, query length, key length) from the query and key input shapes."""
    shapes = layer.input_shapes
    if not shapes:
        raise RuleError(f"attention {layer.path!r} has no input shape")
    query, key = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]

    def split(shape: Shape) -> tuple[int, int]:
        """(batch, length) of a (B, L, E) input, (L, B, E) when not batch_first, or (L, E)."""
        if len(shape) == 2:
            return 1, static(shape[0], "sequence length")
        if layer.attrs.get("batch_first", True):
            return static_numel(shape[:-2], "batch size"), static(shape[-2], "sequence length")
        return static(shape[1], "batch size"), static(shape[0], "sequence length")

    batch, lq = split(query)
    _, lk = split(key)
    return batch, lq, lk


class AttentionRule(Rule):
    """Q, K, V and output projections (+ biases); see the module docstring for the convention."""

    kind = "attention"
    perturbable = ("use_bias", "out_bias", "add_bias_kv", "num_heads", "head_dim")
    codes = {"use_bias": "bias", "out_bias": "bias"}
    aliases = ("multiheadattention",)

    def count(self, layer: Layer) -> ParamCount:
        qd, kd, vd, h, dk, dv, out = _dims(layer)
        bias, out_bias = bool(layer.attrs.get("use_bias", True)), bool(layer.attrs.get("out_bias", True))
        b = "+1" if bias else ""
        terms = [
            Term(f"({qd}{b})*{h}*{dk}", (qd + bias) * h * dk),
            Term(f"({kd}{b})*{h}*{dk}", (kd + bias) * h * dk),
            Term(f"({vd}{b})*{h}*{dv}", (vd + bias) * h * dv),
            Term(f"({h}*{dv}" + ("+1" if out_bias else "") + f")*{out}", (h * dv + out_bias) * out),
        ]
        if layer.attrs.get("add_bias_kv", False):
            terms.append(Term(f"{h}*{dk}+{h}*{dv} (bias_k, bias_v)", h * dk + h * dv))
        return ParamCount.of(*terms)

    def macs(self, layer: Layer) -> int:
        qd, kd, vd, h, dk, dv, out = _dims(layer)
        batch, lq, lk = _lengths(layer)
        projections = lq * qd * h * dk + lk * kd * h * dk + lk * vd * h * dv + lq * h * dv * out
        return batch * (projections + h * lq * lk * (dk + dv))

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('num_heads')} heads x {layer.attrs.get('head_dim')}"


class SDPARule(Rule):
    """softmax(Q·Kᵀ/√d)·V on ready-made q (…, Lq, dk), k (…, Lk, dk), v (…, Lk, dv)."""

    kind = "sdpa"

    def _qkv(self, layer: Layer) -> tuple[Shape, Shape, Shape]:
        if len(layer.input_shapes) < 3:
            raise RuleError(f"sdpa {layer.path!r} needs q, k and v shapes")
        q, k, v = layer.input_shapes[:3]
        return q, k, v

    def output_shapes(self, layer: Layer) -> list[Shape]:
        q, _, v = self._qkv(layer)
        return [(*q[:-1], v[-1])]

    def macs(self, layer: Layer) -> int:
        q, k, v = self._qkv(layer)
        heads_and_queries = static_numel(q[:-1], "query shape")
        lk, dk, dv = static(k[-2], "key length"), static(q[-1], "head dim"), static(v[-1], "value head dim")
        return heads_and_queries * lk * (dk + dv)

    def kernel(self, layer: Layer, context: SaveContext) -> str:
        """Which implementation PyTorch picks: "flash", "efficient" or "math" (its dispatch rules)."""
        q, _, _ = self._qkv(layer)
        dtype = computes_in(layer) or dtype_of(layer)  # under autocast, the dtype it casts q, k, v to
        dropout = float(layer.attrs.get("dropout_p", 0.0) or 0.0) if context.training else 0.0
        if len(q) != 4:
            return "math"
        if context.device == "cpu":
            return "flash" if dropout == 0.0 and dtype in ("float32", "float64", *FUSED_CUDA_FLASH_DTYPES) else "math"
        head_dim = q[-1]
        if dtype in FUSED_CUDA_FLASH_DTYPES and not layer.attrs.get("has_mask") and isinstance(head_dim, int) \
                and head_dim <= MAX_FLASH_HEAD_DIM:
            return "flash"
        return "efficient" if dtype in ("float32", *FUSED_CUDA_FLASH_DTYPES) else "math"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        q, k, v = self._qkv(layer)
        out = self.output_shapes(layer)[0]
        dtype = computes_in(layer) or dtype_of(layer)
        kernel = self.kernel(layer, context)
        if kernel != "math":
            lse_len = q[-2]
            if kernel == "efficient" and isinstance(lse_len, int):
                lse_len = -(-lse_len // 32) * 32
            saved = [as_computed(layer, 0, "q"), as_computed(layer, 1, "k"), as_computed(layer, 2, "v"),
                     saved_output(f"output ({kernel} kernel)") if layer.outputs else new_tensor("output", out, dtype),
                     new_tensor("log-sum-exp", (*q[:-2], lse_len), "float32")]
            if kernel == "efficient" and layer.attrs.get("has_mask") and len(layer.input_shapes) > 3:
                saved.append(saved_input("attention mask", 3))
            return saved
        return self._math_saved(layer, context, q, k, v, dtype)

    def _math_saved(self, layer: Layer, context: SaveContext, q: Shape, k: Shape, v: Shape,
                    given: str) -> list[SavedTensor]:
        """The math fallback; on CPU it computes half-precision inputs in float32 (on float32 copies)."""
        dtype = "float32" if context.device == "cpu" and given in FUSED_CUDA_FLASH_DTYPES else given
        probs = (*q[:-1], k[-2])
        heads = q[-3] if layer.attrs.get("enable_gqa") else k[-3]
        key_t = (*k[:-3], heads, k[-1], k[-2])
        saved = [new_tensor("q*sqrt(scale)", q, dtype), new_tensor("kT*sqrt(scale)", key_t, dtype),
                 new_tensor("attention probabilities", probs, dtype)]
        if context.training and float(layer.attrs.get("dropout_p", 0.0) or 0.0) > 0.0:
            mask_dtype = "bool" if context.device == "cuda" else dtype
            saved += [new_tensor("dropout mask", probs, mask_dtype), new_tensor("dropped probabilities", probs, dtype)]
        value = fact(layer, INPUT, 2)
        if layer.attrs.get("enable_gqa") and q[-3] != v[-3]:
            saved.append(new_tensor("v repeated per query head", (*v[:-3], q[-3], *v[-2:]), dtype))
        elif dtype != given:
            saved.append(new_tensor(f"v as {dtype}", v, dtype))
        elif value is not None and value.strides is not None and not batch_dims_merge(v, value.strides):
            saved.append(new_tensor("v (contiguous copy)", v, dtype))
        else:
            saved.append(saved_input("v", 2))
        return saved


register(AttentionRule())
register(SDPARule())
