"""KV cache of decoder attention: 2 x layers x kv_heads x head_dim x tokens x batch x bytes.

Read from the IR's layers, whatever adapter recorded them: each layer's rule says what it caches
(`Rule.cached_keys_values`: a causal `sdpa` operator's keys and values, grouped-query heads and sliding
windows accounted for); this module adds the layers up, in the dtype they are stored in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import astuple, dataclass

from auditor.ir import ModelIR
from auditor.memory.items import MemoryItem, dtype_bytes
from auditor.registry import Registry
from auditor.rules import RULES, Rule
from auditor.rules.saved import dtype_of
from auditor.rules.saved_records import CachedKeysValues


@dataclass(frozen=True)
class CachedLayer:
    """One layer's cache (what its rule says it keeps) and the dtype it is kept in."""

    path: str
    cache: CachedKeysValues
    dtype: str

    @property
    def bytes(self) -> int:
        c = self.cache
        return c.batch * c.kv_heads * c.tokens * (c.key_dim + c.value_dim) * dtype_bytes(self.dtype)


def cached_layers(model: ModelIR, dtype: str | None = None, rules: Registry[str, Rule] = RULES) -> list[CachedLayer]:
    """Every layer whose rule says it keeps keys and values between tokens (`Rule.cached_keys_values`)."""
    found = []
    for layer in model.layers:
        rule = rules.get(layer.kind)
        cached = rule.cached_keys_values(layer) if rule is not None else None
        if cached is not None:
            found.append(CachedLayer(layer.path, cached, dtype or dtype_of(layer, "input", 1)))
    return found


def kv_cache_item(model: ModelIR, dtype: str | None = None, rules: Registry[str, Rule] = RULES) -> MemoryItem | None:
    """The cache after processing the pass's tokens; None when the model has no causal attention."""
    layers = cached_layers(model, dtype, rules)
    if not layers:
        return None
    total = sum(c.bytes for c in layers)
    groups = Counter((c.cache, c.dtype) for c in layers)
    terms = []
    for (cache, dt), n in sorted(groups.items(), key=lambda group: (astuple(group[0][0]), group[0][1])):
        heads, kd, vd = cache.kv_heads, cache.key_dim, cache.value_dim
        dims = f"2 x {n} layers x {heads} kv_heads x {kd} head_dim" if kd == vd else \
            f"{n} layers x {heads} kv_heads x ({kd} + {vd}) dims"
        terms.append(f"{dims} x {cache.tokens:,} tokens x {cache.batch} batch x {dtype_bytes(dt)} B")
    return MemoryItem("KV cache", total, f"{' + '.join(terms)} = {total:,} B")
