"""The memory budget's data: items a person can check (name, bytes, the formula), and the budget itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.ir import DTYPE_BYTES

NOT_INCLUDED = (
    "CUDA context and kernels (typically 0.3-1 GiB per process)",
    "allocator caching and fragmentation (PyTorch keeps freed blocks reserved)",
    "framework workspaces (cuBLAS/cuDNN scratch, fused-kernel workspaces, oneDNN/cuDNN RNN reserve space)",
    "temporary buffers of backward (gradients of activations alive while a layer's backward runs)",
    "the loss and what it keeps (e.g. cross-entropy's log-probabilities of the logits)",
    "data-loader batches and pinned host memory",
)
"""What no item counts, stated in every rendering."""


@dataclass(frozen=True)
class MemoryItem:
    """One line of the budget: what, how many bytes, and the formula that gives them."""

    name: str
    bytes: int | None
    """None when the value is unknown (never printed as zero)."""
    formula: str
    complete: bool = True
    """False when some layers could not be counted (the bytes are those that could)."""


@dataclass(frozen=True)
class LayerMemory:
    """One layer's share of an item: what it keeps for backward (train) or outputs (infer)."""

    path: str
    kind: str
    bytes: int | None
    formula: str


@dataclass(frozen=True)
class MemoryBudget:
    """Training or inference memory, itemised: `total_bytes` is the sum of `items`."""

    mode: str
    items: tuple[MemoryItem, ...]
    layers: tuple[LayerMemory, ...] = ()
    notes: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)
    not_included: tuple[str, ...] = NOT_INCLUDED

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes or 0 for item in self.items)

    @property
    def complete(self) -> bool:
        return all(item.complete and item.bytes is not None for item in self.items)

    def item(self, name: str) -> MemoryItem:
        """The item whose name starts with `name` ("weights", "gradients", ...)."""
        for found in self.items:
            if found.name.startswith(name):
                return found
        raise KeyError(name)


def dtype_bytes(dtype: str) -> int:
    return DTYPE_BYTES.get(dtype, 4)


def count(n: int) -> str:
    return f"{n:,}"


def times(factors: list[str], total: int) -> str:
    """"2 x 4 B x 1,024 = 8,192 B"."""
    return f"{' x '.join(factors)} = {total:,} B"
