"""Multi-head attention (PyTorch MultiheadAttention, Keras MultiHeadAttention) and bare SDPA.

attention attrs: query_dim, key_dim, value_dim (input feature widths), num_heads, head_dim (per
head, queries and keys), value_head_dim, output_dim, use_bias (q/k/v projection biases), out_bias,
add_bias_kv (PyTorch's learned bias_k, bias_v: one key-width and one value-width vector), batch_first;
optionally kv_heads (key/value heads of grouped-query attention; default num_heads), output_dims (the
output's trailing dims when there are several, Keras's `output_shape`; their product is output_dim) and
attention_axes (the query axes attention runs over, Keras's `attention_axes`; default the axis before
the features), gate (Keras's use_gate: a sigmoid gate projection of the query, query_dim*h*dv) and
self_attention (keys and values are the query input: the layer's other inputs are masks),
output_projection (False: onnxruntime's fused Attention, whose output projection is a separate MatMul).
PyTorch maps to head_dim = value_head_dim = embed_dim/num_heads, output_dim = embed_dim.
Inputs: query first, then key (or value: they share their length).
Parameters: projections query_dim*h*dk, key_dim*kv*dk, value_dim*kv*dv, h*dv*output_dim, plus biases.
MACs: the four projections plus the two products Q·Kᵀ (h*Lq*Lk*dk) and A·V (h*Lq*Lk*dv) per sequence;
softmax, scaling and position encodings applied inside the layer (rotary) are excluded.
sdpa (scaled_dot_product_attention on q, k, v): the two products only; q, k, v are (..., L, d) per
head, or, with attrs num_heads and kv_num_heads, (..., L, heads*d) with the heads packed in the last axis
(ONNX Attention on 3-D inputs, onnxruntime's fused attention ops; grouped-query attention when
kv_num_heads < num_heads: every query head attends to its group's keys).
sdpa attrs (optional): dropout_p, is_causal, has_mask, enable_gqa.  Saved for backward: a fused
kernel (flash / memory-efficient) keeps q, k, v, its output and the softmax's log-sum-exp per query;
PyTorch's math fallback (CPU with dropout, CUDA when no fused kernel applies) keeps the scaled q and
kᵀ, the attention probabilities, the dropout mask and the dropped probabilities, and v.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, first_input, static, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import (
    as_computed,
    computes_in,
    dtype_of,
    fact,
    new_tensor,
    saved_input,
    saved_output,
)
from auditor.rules.saved_records import CachedKeysValues
from auditor.rules.saved_sources import INPUT
from auditor.rules.shapes import batch_dims_merge

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor

FUSED_CUDA_FLASH_DTYPES = ("float16", "bfloat16")
MAX_FLASH_HEAD_DIM = 256


@dataclass(frozen=True)
class _Dims:
    query: int
    key: int
    value: int
    heads: int
    kv_heads: int
    head: int
    value_head: int
    output: int


def _dims(layer: Layer) -> _Dims:
    names = ("query_dim", "key_dim", "value_dim", "num_heads")
    query, key, value, heads = (int(attr(layer, n)) for n in names)
    kv_heads = int(layer.attrs.get("kv_heads", heads))
    dims = _Dims(query, key, value, heads, kv_heads, int(attr(layer, "head_dim")), int(attr(layer, "value_head_dim")),
                 int(attr(layer, "output_dim")))
    if min(vars(dims).values()) < 1:
        raise RuleError(f"attention dims must be >= 1: {vars(dims)}")
    if heads % kv_heads:
        raise RuleError(f"num_heads {heads} must be a multiple of kv_heads {kv_heads}")
    return dims


def _split(layer: Layer, shape: Shape) -> tuple[int, int]:
    """(positions, attended length) of one input: (B, L, E) batch_first, (L, B, E), (L, E) or Keras's
    attention_axes over (B, *axes, E); every position is projected, each sequence attends over L."""
    if len(shape) < 2:
        raise RuleError(f"attention input of rank {len(shape)}")
    positions = static_numel(shape[:-1], "attention input size")
    axes = layer.attrs.get("attention_axes")
    if axes is not None:
        length = math.prod(static(shape[a], "attended length") for a in axes)
    elif len(shape) == 2 or layer.attrs.get("batch_first", True):
        length = static(shape[-2], "sequence length")
    else:
        length = static(shape[0], "sequence length")
    return positions, length


def _lengths(layer: Layer) -> tuple[int, int, int]:
    """(query positions, key positions, key length): each query position attends over the key length."""
    shapes = layer.input_shapes
    query = first_input(layer)
    positions_q, _ = _split(layer, query)
    own = layer.attrs.get("self_attention", False) or len(shapes) < 2
    positions_k, lk = _split(layer, query if own else shapes[1])
    return positions_q, positions_k, lk


def _plus(width: object, bias: bool) -> str:
    """A projection's inputs per output as a person writes them: "(64+1)" with a bias, "64" without."""
    return f"({width}+1)" if bias else str(width)


class AttentionRule(Rule):
    """Q, K, V and output projections (+ biases); see the module docstring for the convention."""

    kind = "attention"
    biases = {"use_bias": False, "out_bias": False}
    perturbable = ("use_bias", "out_bias", "add_bias_kv", "gate", "num_heads", "kv_heads", "head_dim")
    codes = {"use_bias": "bias", "out_bias": "bias"}
    aliases = ("multiheadattention",)

    def count(self, layer: Layer) -> ParamCount:
        d = _dims(layer)
        bias, out_bias = bool(layer.attrs.get("use_bias", True)), bool(layer.attrs.get("out_bias", True))
        terms = [
            Term(f"{_plus(d.query, bias)}*{d.heads}*{d.head}", (d.query + bias) * d.heads * d.head),
            Term(f"{_plus(d.key, bias)}*{d.kv_heads}*{d.head}", (d.key + bias) * d.kv_heads * d.head),
            Term(f"{_plus(d.value, bias)}*{d.kv_heads}*{d.value_head}", (d.value + bias) * d.kv_heads * d.value_head),
        ]
        if layer.attrs.get("output_projection", True):
            terms.append(Term(f"{_plus(f'{d.heads}*{d.value_head}', out_bias)}*{d.output}",
                              (d.heads * d.value_head + out_bias) * d.output))
        if layer.attrs.get("gate", False):
            terms.append(Term(f"{_plus(d.query, bias)}*{d.heads}*{d.value_head} (gate)", (d.query + bias) * d.heads * d.value_head))
        if layer.attrs.get("add_bias_kv", False):
            terms.append(Term(f"{d.kv_heads}*{d.head}+{d.kv_heads}*{d.value_head} (bias_k, bias_v)",
                              d.kv_heads * (d.head + d.value_head)))
        return ParamCount.of(*terms)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        d = _dims(layer)
        trailing = tuple(int(n) for n in layer.attrs.get("output_dims", (d.output,)))
        if math.prod(trailing) != d.output:
            raise RuleError(f"output_dims {trailing} do not multiply to output_dim {d.output}")
        return [(*first_input(layer)[:-1], *trailing)]

    def macs(self, layer: Layer) -> int:
        d = _dims(layer)
        positions_q, positions_k, lk = _lengths(layer)
        projections = (positions_q * d.query * d.heads * d.head + positions_k * d.key * d.kv_heads * d.head
                       + positions_k * d.value * d.kv_heads * d.value_head)
        if layer.attrs.get("output_projection", True):
            projections += positions_q * d.heads * d.value_head * d.output
        if layer.attrs.get("gate", False):
            projections += positions_q * d.query * d.heads * d.value_head
        return projections + positions_q * d.heads * lk * (d.head + d.value_head)

    def describe(self, layer: Layer) -> str:
        kv = layer.attrs.get("kv_heads")
        grouped = f" ({kv} kv)" if kv is not None and kv != layer.attrs.get("num_heads") else ""
        return f"{layer.attrs.get('num_heads')} heads x {layer.attrs.get('head_dim')}{grouped}"


class SDPARule(Rule):
    """softmax(Q·Kᵀ/√d)·V on ready-made q (…, Lq, dk), k (…, Lk, dk), v (…, Lk, dv).

    With use_bias (onnxruntime's MultiHeadAttention, which adds the projections' bias), one bias value
    per q, k and v feature: Dq + Dk + Dv parameters, the widths read from the packed-head inputs.
    """

    kind = "sdpa"

    def count(self, layer: Layer) -> ParamCount:
        if not layer.attrs.get("use_bias", False):
            return ParamCount.of(Term("0", 0))
        q, k, v = self._qkv(layer)
        widths = [static(s[-1], "attention input width") for s in (q, k, v)]
        return ParamCount.of(Term(f"{'+'.join(map(str, widths))} (q, k, v biases)", sum(widths)))

    def _qkv(self, layer: Layer) -> tuple[Shape, Shape, Shape]:
        if len(layer.input_shapes) < 3:
            raise RuleError(f"sdpa {layer.path!r} needs q, k and v shapes")
        q, k, v = layer.input_shapes[:3]
        return q, k, v

    def _heads(self, layer: Layer) -> tuple[int, int] | None:
        """(query heads, key/value heads) for packed-head inputs, else None."""
        if layer.attrs.get("num_heads") is None:
            return None
        heads = int(attr(layer, "num_heads"))
        kv_heads = int(layer.attrs.get("kv_num_heads") or heads)
        if heads < 1 or kv_heads < 1 or heads % kv_heads:
            raise RuleError(f"num_heads {heads} must be a positive multiple of kv_num_heads {kv_heads}")
        return heads, kv_heads

    def output_shapes(self, layer: Layer) -> list[Shape]:
        q, _, v = self._qkv(layer)
        heads = self._heads(layer)
        if heads is None:
            return [(*q[:-1], v[-1])]
        per_head = static(v[-1], "value width") // heads[1]
        return [(*q[:-1], heads[0] * per_head)]

    def macs(self, layer: Layer) -> int:
        q, k, v = self._qkv(layer)
        lk, dk, dv = static(k[-2], "key length"), static(q[-1], "head dim"), static(v[-1], "value head dim")
        heads = self._heads(layer)
        if heads is None:
            return static_numel(q[:-1], "query shape") * lk * (dk + dv)
        per_query = heads[0] * (dk // heads[0] + dv // heads[1])
        return static_numel(q[:-1], "query shape") * lk * per_query

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

    def cached_keys_values(self, layer: Layer) -> CachedKeysValues | None:
        """A causal sdpa on (batch, kv_heads, tokens, head_dim) keys and values caches them: keys repeated
        per query head before attention (`kv_groups`) count once per group; a sliding window keeps its
        last `sliding_window - 1` tokens, as transformers' sliding-window cache does."""
        causal = layer.attrs.get("causal", layer.attrs.get("is_causal", False))
        if len(layer.input_shapes) < 3 or not causal:
            return None
        key, value = layer.input_shapes[1], layer.input_shapes[2]
        if len(key) != 4 or not all(isinstance(d, int) for d in (*key, *value)):
            return None
        batch, heads, tokens, key_dim = (int(d) for d in key)
        groups = int(layer.attrs.get("kv_groups", 1) or 1)
        if groups > 1 and not layer.attrs.get("enable_gqa") and heads == layer.input_shapes[0][-3]:
            heads //= groups
        window = layer.attrs.get("sliding_window")
        if isinstance(window, int) and window > 0:
            tokens = min(tokens, window - 1)
        return CachedKeysValues(batch, heads, tokens, key_dim, int(value[-1]))


register(AttentionRule())
register(SDPARule())
