"""The memory budget: will it fit?  Training and inference memory, itemised, each item with its formula.

Owns: the budget's arithmetic (weights per dtype, master and autocast copies, gradients, optimizer
states, saved activations, checkpointing, KV cache, forward peak).  What each layer keeps for backward
is its rule's knowledge (`Rule.saved_for_backward`); rendering is `auditor.report`'s.
May import: `auditor.ir`, `auditor.pass_facts`, `auditor.rules`, `auditor.registry`, `auditor.options` and `auditor.errors`.

    budget = auditor.audit(model, input_shape=(1, 3, 224, 224), memory="train", optimizer="adam").memory
"""

from typing import TYPE_CHECKING, Any

from auditor.memory.choices import CHECKPOINTING, MODES, OPTIMIZERS

if TYPE_CHECKING:
    from auditor.memory.budget import memory_budget
    from auditor.memory.items import NOT_INCLUDED, LayerMemory, MemoryBudget, MemoryItem
    from auditor.memory.options import PRECISIONS, MemoryOptions

_LAZY = {"memory_budget": "auditor.memory.budget", "NOT_INCLUDED": "auditor.memory.items",
         "LayerMemory": "auditor.memory.items", "MemoryBudget": "auditor.memory.items",
         "MemoryItem": "auditor.memory.items", "MemoryOptions": "auditor.memory.options",
         "PRECISIONS": "auditor.memory.options"}
"""Names imported on first use: a plain audit (the options import this package's vocabularies) never needs
the budget's modules or records."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CHECKPOINTING",
    "MODES",
    "NOT_INCLUDED",
    "OPTIMIZERS",
    "PRECISIONS",
    "LayerMemory",
    "MemoryBudget",
    "MemoryItem",
    "MemoryOptions",
    "memory_budget",
]
