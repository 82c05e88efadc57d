"""Activations saved for backward: each layer's rule says what it keeps; every storage is counted once.

A saved input or output is identified by the storage the shape pass recorded for it (views share their
base's storage), so a Linear keeping the ReLU output that the ReLU keeps too costs one tensor.  Model
state (parameters, buffers) is counted under weights, never here.  Without recorded storages (an
adapter that records no tensor facts) a layer's input is taken to be the previous layer's output when
their shapes agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.ir import Layer, ModelIR, numel
from auditor.memory.items import LayerMemory, MemoryItem, count, dtype_bytes
from auditor.registry import Registry
from auditor.rules import RULES, Rule, RuleError
from auditor.rules.saved import fact
from auditor.rules.saved_records import SaveContext, SavedTensor
from auditor.rules.saved_sources import INPUT, WEIGHT

Key = tuple[object, ...]


@dataclass(frozen=True)
class Kept:
    """One saved tensor resolved to a storage: `key` identifies it, `weight` marks autocast's weight copies."""

    key: Key
    bytes: int
    what: str
    weight: bool = False


@dataclass(frozen=True)
class LayerSaved:
    """A layer and what it keeps (None: its rule does not know, or the layer has no shapes)."""

    index: int
    layer: Layer
    kept: tuple[Kept, ...] | None
    reason: str = ""



def _resolve(model: ModelIR, index: int, saved: SavedTensor) -> Kept | None:
    """The storage behind one saved tensor; None for model state (counted as weights)."""
    layer = model.layers[index]
    if saved.source == WEIGHT:
        owner = next((p.shared_with or layer.path for p in layer.params if p.name == saved.what), layer.path)
        n = numel(saved.shape)
        if n is None:
            raise RuleError(f"weight {saved.what} has a symbolic shape")
        return Kept(("weight", owner, saved.what), n * dtype_bytes(saved.dtype), f"{saved.what} as {saved.dtype}", True)
    if saved.is_new:
        n = numel(saved.shape)
        if n is None:
            raise RuleError(f"{saved.what} has a symbolic shape {saved.shape}")
        return Kept(("new", index, saved.what), n * dtype_bytes(saved.dtype), saved.what)
    found = fact(layer, saved.source, saved.index)
    if found is not None and found.model_state:
        return None
    if found is not None and found.storage is not None and found.storage_bytes is not None:
        return Kept(("storage", found.storage), found.storage_bytes, saved.what)
    return _by_shape(model, index, saved)


def _by_shape(model: ModelIR, index: int, saved: SavedTensor) -> Kept:
    """No recorded storage: an input is the previous layer's output when the shapes agree."""
    layer = model.layers[index]
    shapes = layer.input_shapes if saved.source == INPUT else layer.output_shapes
    if saved.index >= len(shapes):
        raise RuleError(f"no shape for {saved.source} {saved.index}")
    shape = shapes[saved.index]
    n = numel(shape)
    if n is None:
        raise RuleError(f"{saved.what} has a symbolic shape {shape}")
    size = n * dtype_bytes(_model_dtype(model))
    previous = model.layers[index - 1] if index else None
    if saved.source == INPUT and previous is not None and previous.output_shapes and previous.output_shapes[0] == shape:
        return Kept(("output", index - 1), size, saved.what)
    if saved.source == INPUT:
        return Kept(("input", index, saved.index), size, saved.what)
    return Kept(("output", index) if saved.index == 0 else ("output", index, saved.index), size, saved.what)


def _model_dtype(model: ModelIR) -> str:
    for layer in model.layers:
        for p in layer.params:
            return p.dtype
    return "float32"


def saved_per_layer(model: ModelIR, context: SaveContext, rules: Registry[str, Rule] = RULES) -> list[LayerSaved]:
    """What every layer with shapes keeps, in execution order."""
    result = []
    for index, layer in enumerate(model.layers):
        if not layer.input_shapes and not layer.output_shapes:
            continue
        rule = rules.get(layer.kind)
        if rule is None and model.pass_info is not None and layer.kind.startswith(f"{model.framework}:"):
            result.append(LayerSaved(index, layer, ()))  # a container: the pass recorded its own operators
            continue
        if rule is None:
            result.append(LayerSaved(index, layer, None, f"no rule for kind {layer.kind!r}"))
            continue
        try:
            answer = rule.saved_for_backward(layer, context)
            if answer is None:
                result.append(LayerSaved(index, layer, None, f"the {layer.kind} rule does not know what it keeps"))
                continue
            kept = tuple(k for k in (_resolve(model, index, s) for s in answer) if k is not None)
        except Exception as err:  # a user rule may raise anything: its layer is unknown, with the reason
            result.append(LayerSaved(index, layer, None, str(err)))
            continue
        result.append(LayerSaved(index, layer, kept))
    return result


@dataclass(frozen=True)
class Tally:
    """Unique storages over a run of layers: activation bytes, autocast weight-copy bytes, per-layer rows."""

    activation_bytes: int
    weight_copy_bytes: int
    rows: tuple[LayerMemory, ...]
    unknown: tuple[LayerSaved, ...]


def tally(entries: list[LayerSaved]) -> Tally:
    seen: set[Key] = set()
    activations = copies = 0
    rows, unknown = [], []
    for entry in entries:
        if entry.kept is None:
            unknown.append(entry)
            rows.append(LayerMemory(entry.layer.path, entry.layer.kind, None, f"unknown: {entry.reason}"))
            continue
        parts = []
        for kept in entry.kept:
            if kept.key in seen:
                continue
            seen.add(kept.key)
            if kept.weight:
                copies += kept.bytes
                continue
            activations += kept.bytes
            parts.append((kept.what, kept.bytes))
        if parts:
            total = sum(b for _, b in parts)
            text = " + ".join(f"{what} {b:,} B" for what, b in parts)
            rows.append(LayerMemory(entry.layer.path, entry.layer.kind, total, f"{text} = {total:,} B"))
    return Tally(activations, copies, tuple(rows), tuple(unknown))


def activation_item(result: Tally, name: str = "activations saved for backward") -> MemoryItem:
    counted = [r for r in result.rows if r.bytes]
    largest = max(counted, key=lambda r: r.bytes or 0, default=None)
    formula = f"sum over {len(counted)} layers of what each keeps, every storage once"
    if largest is not None:
        formula += f" (largest: {largest.path}, {largest.bytes:,} B)"
    if result.unknown:
        paths = ", ".join(e.layer.path for e in result.unknown[:3]) + (" ..." if len(result.unknown) > 3 else "")
        formula += f"; unknown for {len(result.unknown)} layers ({paths}): not included"
    return MemoryItem(name, result.activation_bytes, f"{formula} = {result.activation_bytes:,} B",
                      complete=not result.unknown)


def weight_copy_item(result: Tally, dtype: str) -> MemoryItem:
    n = result.weight_copy_bytes // dtype_bytes(dtype)
    return MemoryItem(f"weight copies in {dtype} (autocast's casts, kept for backward)", result.weight_copy_bytes,
                      f"{dtype_bytes(dtype)} B x {count(n)} params of matmuls and convolutions = "
                      f"{result.weight_copy_bytes:,} B")
