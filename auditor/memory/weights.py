"""Weights, buffers and gradients: every tensor the model owns, counted once (tied weights at their owner)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from auditor.ir import ModelIR, ParamTensor
from auditor.memory.items import MemoryItem, count, dtype_bytes, times
from auditor.memory.options import Recipe

FLOATING = ("float", "bfloat")


def owned(model: ModelIR) -> Iterator[ParamTensor]:
    """Every parameter and buffer once: second uses of a tied tensor are skipped."""
    for layer in model.layers:
        for p in layer.params:
            if p.shared_with is None:
                yield p


def stored_dtype(p: ParamTensor, recipe: Recipe) -> str:
    """The dtype a recipe keeps the tensor in: floating tensors take the recipe's, others keep theirs."""
    if recipe.weights and p.dtype.startswith(FLOATING):
        return recipe.weights
    return p.dtype


def by_dtype(tensors: list[ParamTensor], recipe: Recipe) -> dict[str, tuple[int, int]]:
    """dtype -> (elements, tensors)."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in tensors:
        group = groups[stored_dtype(p, recipe)]
        group[0] += p.numel
        group[1] += 1
    return {dtype: (n, k) for dtype, (n, k) in sorted(groups.items())}


def _per_dtype(label: str, what: str, tensors: list[ParamTensor], recipe: Recipe, note: str = "") -> list[MemoryItem]:
    items = []
    for dtype, (n, _) in by_dtype(tensors, recipe).items():
        size = dtype_bytes(dtype)
        items.append(MemoryItem(f"{label} ({dtype}{note})", n * size, times([f"{size} B", f"{count(n)} {what}"], n * size)))
    return items


def weights(model: ModelIR, recipe: Recipe) -> list[MemoryItem]:
    """Parameters per dtype; under autocast the float32 parameters are the master copy."""
    params = [p for p in owned(model) if not p.buffer]
    note = ", the master copy autocast reads" if recipe.autocast else ""
    items = _per_dtype("weights", "params", params, recipe, note)
    return items or [MemoryItem("weights", 0, "0 params = 0 B")]


def buffers(model: ModelIR, recipe: Recipe) -> list[MemoryItem]:
    """Buffers (BatchNorm statistics, rotary tables): model state that is not a parameter."""
    kept = Recipe(recipe.name, None) if recipe.autocast else recipe
    return _per_dtype("buffers", "values", [p for p in owned(model) if p.buffer], kept)


def trainable(model: ModelIR) -> list[ParamTensor]:
    return [p for p in owned(model) if not p.buffer and p.trainable]


def gradients(model: ModelIR, recipe: Recipe) -> list[MemoryItem]:
    """One gradient per trainable parameter, in the parameter's dtype (frozen ones get none)."""
    items = _per_dtype("gradients", "trainable params", trainable(model), recipe)
    return items or [MemoryItem("gradients", 0, "no trainable parameters = 0 B")]
