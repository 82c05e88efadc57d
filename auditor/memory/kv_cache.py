"""KV cache of decoder attention: 2 x layers x kv_heads x head_dim x tokens x batch x bytes.

Read from the IR's attention operators, whatever adapter recorded them: an `sdpa` operator whose
keys and values are (batch, kv_heads, tokens, head_dim) and that is causal (`is_causal`, or the
calling module says so) is one cached layer; grouped-query and multi-query attention show as fewer
kv_heads than query heads (keys repeated per query head before attention count once per group,
`kv_groups`).  A layer with a sliding window keeps its last `sliding_window - 1` tokens, as
transformers' sliding-window cache does (the current token completes the window).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.ir import Layer, ModelIR
from auditor.memory.items import MemoryItem, dtype_bytes
from auditor.rules.saved import dtype_of


@dataclass(frozen=True)
class CachedLayer:
    path: str
    batch: int
    kv_heads: int
    tokens: int
    key_dim: int
    value_dim: int
    dtype: str

    @property
    def bytes(self) -> int:
        return self.batch * self.kv_heads * self.tokens * (self.key_dim + self.value_dim) * dtype_bytes(self.dtype)


def _causal(layer: Layer) -> bool:
    return bool(layer.attrs.get("causal", layer.attrs.get("is_causal", False)))


def cached_layers(model: ModelIR, dtype: str | None = None) -> list[CachedLayer]:
    found = []
    for layer in model.layers:
        if layer.kind != "sdpa" or len(layer.input_shapes) < 3 or not _causal(layer):
            continue
        key, value = layer.input_shapes[1], layer.input_shapes[2]
        if len(key) != 4 or not all(isinstance(d, int) for d in (*key, *value)):
            continue
        batch, heads, tokens, key_dim = (int(d) for d in key)
        groups = int(layer.attrs.get("kv_groups", 1) or 1)
        if groups > 1 and not layer.attrs.get("enable_gqa") and heads == layer.input_shapes[0][-3]:
            heads //= groups
        window = layer.attrs.get("sliding_window")
        if isinstance(window, int) and window > 0:
            tokens = min(tokens, window - 1)
        found.append(CachedLayer(layer.path, batch, heads, tokens, key_dim, int(value[-1]),
                                 dtype or dtype_of(layer, "input", 1)))
    return found


def kv_cache_item(model: ModelIR, dtype: str | None = None) -> MemoryItem | None:
    """The cache after processing the pass's tokens; None when the model has no causal attention."""
    layers = cached_layers(model, dtype)
    if not layers:
        return None
    total = sum(c.bytes for c in layers)
    shapes = sorted({(c.batch, c.kv_heads, c.tokens, c.key_dim, c.value_dim, c.dtype) for c in layers})
    terms = []
    for batch, heads, tokens, kd, vd, dt in shapes:
        n = sum(1 for c in layers if (c.batch, c.kv_heads, c.tokens, c.key_dim, c.value_dim, c.dtype)
                == (batch, heads, tokens, kd, vd, dt))
        dims = f"2 x {n} layers x {heads} kv_heads x {kd} head_dim" if kd == vd else \
            f"{n} layers x {heads} kv_heads x ({kd} + {vd}) dims"
        terms.append(f"{dims} x {tokens:,} tokens x {batch} batch x {dtype_bytes(dt)} B")
    return MemoryItem("KV cache", total, f"{' + '.join(terms)} = {total:,} B")
