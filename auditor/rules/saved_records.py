"""The records of what a layer keeps for backward (`auditor.rules.saved` has the helpers rules build them
with).  Only a memory budget creates them, so an audit never imports this module."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.ir import Shape
from auditor.rules.saved_sources import INPUT, NEW, WEIGHT


@dataclass(frozen=True)
class CachedKeysValues:
    """What one attention layer of a decoder keeps between generated tokens: the keys and values of
    every token so far (`tokens`), for `kv_heads` heads of `key_dim` and `value_dim` each."""

    batch: int
    kv_heads: int
    tokens: int
    key_dim: int
    value_dim: int


@dataclass(frozen=True)
class SaveContext:
    """What the answer depends on beyond the layer: the target device's kernels, train or eval mode."""

    device: str = "cuda"
    """"cuda" or "cpu": dropout masks, attention kernels and recurrent kernels differ."""
    training: bool = True


@dataclass(frozen=True)
class SavedTensor:
    """One tensor kept for backward.  `source` says which: the layer's input or output number `index`,
    a `new` tensor of `shape` and `dtype`, or a `weight` copy (autocast's cast of parameter `what`)."""

    what: str
    source: str = INPUT
    index: int = 0
    shape: Shape = ()
    dtype: str = "float32"

    @property
    def is_new(self) -> bool:
        return self.source in (NEW, WEIGHT)


__all__ = ["CachedKeysValues", "SaveContext", "SavedTensor"]
