"""Activation checkpointing by blocks: keep each block's input, recompute one block at a time in backward.

Blocks are the repeated children of the model's largest numbered container (`model.layers.0`,
`model.layers.1`, ... or `encoder.layer.N`), found from the layer paths.  With checkpointing the
saved activations are what layers outside every block keep, plus every block's input, plus the largest
block's own saved tensors (alive while that block is recomputed and differentiated).
"""

from __future__ import annotations

import re
from collections import defaultdict

from auditor.ir import ModelIR
from auditor.memory.activations import LayerSaved, Tally, tally
from auditor.memory.items import MemoryItem
from auditor.rules.saved import fact

_PARTS = re.compile(r"[./#]")


def blocks(model: ModelIR) -> dict[int, str]:
    """Layer index -> block name ("model.layers.3"), for layers inside the largest numbered container."""
    indices: dict[str, set[str]] = defaultdict(set)
    members: dict[str, int] = defaultdict(int)
    for layer in model.layers:
        parts = _PARTS.split(layer.path)
        for i, part in enumerate(parts[:-1]):
            if part.isdigit():
                container = ".".join(parts[:i])
                indices[container].add(part)
                members[container] += 1
    candidates = [c for c, found in indices.items() if len(found) >= 2]
    if not candidates:
        return {}
    container = max(candidates, key=lambda c: (len(indices[c]), members[c]))
    result = {}
    for index, layer in enumerate(model.layers):
        parts = _PARTS.split(layer.path)
        for i, part in enumerate(parts[:-1]):
            if part.isdigit() and ".".join(parts[:i]) == container:
                result[index] = f"{container}.{part}" if container else part
                break
    return result


def checkpointed_item(model: ModelIR, entries: list[LayerSaved]) -> tuple[MemoryItem, Tally] | None:
    """The saved-activation item under block checkpointing; None when the model has no repeated blocks."""
    owner = blocks(model)
    if not owner:
        return None
    outside = tally([e for e in entries if e.index not in owner])
    per_block: dict[str, list[LayerSaved]] = defaultdict(list)
    for entry in entries:
        if entry.index in owner:
            per_block[owner[entry.index]].append(entry)
    inputs = _block_inputs(model, owner)
    largest_name, largest = max(((name, tally(group)) for name, group in per_block.items()),
                                key=lambda pair: pair[1].activation_bytes)
    kept_inputs = sum(inputs.values())
    total = outside.activation_bytes + kept_inputs + largest.activation_bytes
    unknown = outside.unknown + largest.unknown
    formula = (f"outside the blocks {outside.activation_bytes:,} B + {len(inputs)} block inputs {kept_inputs:,} B"
               f" + recompute of the largest block ({largest_name}) {largest.activation_bytes:,} B = {total:,} B")
    item = MemoryItem("activations saved for backward (checkpointing blocks)", total, formula, complete=not unknown)
    return item, largest


def _block_inputs(model: ModelIR, owner: dict[int, str]) -> dict[str, int]:
    """Bytes of the tensor entering each block: its first layer's first input."""
    inputs: dict[str, int] = {}
    for index, name in owner.items():
        if name in inputs:
            continue
        layer = model.layers[index]
        found = fact(layer, "input", 0)
        if found is not None and found.storage_bytes is not None:
            inputs[name] = found.storage_bytes
        elif layer.input_shapes and all(isinstance(d, int) for d in layer.input_shapes[0]):
            n = 1
            for d in layer.input_shapes[0]:
                n *= int(d)
            inputs[name] = n * 4
    return inputs
