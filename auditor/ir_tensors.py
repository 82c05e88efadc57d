"""IR records for tensors outside the common case: a packed weight's stored form, a tensor no layer owns.

Defined apart from `auditor.ir` (which re-exports both by name) because most models have neither: an
audit creates these classes only when a file holds a packed or an unclaimed tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Packing:
    """How a quantized tensor is stored when that differs from the logical tensor it holds."""

    stored_name: str
    """The stored tensor's own name ("qweight" for a GPTQ layer's logical "weight")."""
    stored_shape: tuple[int, ...]
    stored_dtype: str
    formula: str
    """The packing rule applied, e.g. "qweight 512x4096 int32 -> 4096x4096 = 16,777,216 4-bit weights"."""

    @property
    def stored_numel(self) -> int:
        return math.prod(self.stored_shape)


@dataclass(frozen=True)
class LooseTensor:
    """A tensor the model consumes that no layer owns: counted in the audit's `unattributed` total."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    used_by: tuple[str, ...] = ()
    """Names of the operators that consume it."""

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


__all__ = ["LooseTensor", "Packing"]
