"""Forward-only memory: each layer's output (CS231n's per-layer rows) and the largest set alive at once.

Rows follow the report's activation convention: the model's inputs and every layer that allocates an
output (activations, dropout and views are taken as in place).  The peak follows the storages the
shape pass recorded: a tensor is alive from the first layer that produces or reads it to the last
one that reads it (the model's outputs to the end); without recorded storages it is the largest
input-plus-output of one layer.
"""

from __future__ import annotations

from auditor.ir import ModelIR, Shape, numel
from auditor.memory.items import LayerMemory, MemoryItem, dtype_bytes
from auditor.rules import get_rule
from auditor.rules.saved import dtype_of


def _row(path: str, kind: str, shape: Shape, dtype: str) -> LayerMemory | None:
    n = numel(shape)
    if n is None:
        return None
    size = dtype_bytes(dtype)
    dims = "*".join(str(d) for d in shape)
    return LayerMemory(path, kind, n * size, f"{dims} = {n:,} values x {size} B = {n * size:,} B")


def output_rows(model: ModelIR, default_dtype: str) -> list[LayerMemory]:
    rows = []
    for i, shape in enumerate(model.input_shapes):
        row = _row("input" if len(model.input_shapes) == 1 else f"input {i}", "input", shape, default_dtype)
        if row is not None:
            rows.append(row)
    for layer in model.layers:
        rule = get_rule(layer.kind)
        if not layer.output_shapes or (rule is not None and not rule.allocates_output):
            continue
        row = _row(layer.path, layer.kind, layer.output_shapes[0], dtype_of(layer, "output", 0, default_dtype))
        if row is not None:
            rows.append(row)
    return rows


def peak_item(model: ModelIR, default_dtype: str) -> MemoryItem:
    spans: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    last = len(model.layers) - 1
    for index, layer in enumerate(model.layers):
        for facts in (layer.inputs, layer.outputs):
            for found in facts:
                if found.model_state or found.storage is None or found.storage_bytes is None:
                    continue
                span = spans.setdefault(found.storage, [index, index])
                span[1] = index
                sizes[found.storage] = found.storage_bytes
    if not spans:
        return _peak_without_facts(model, default_dtype)
    final = {f.storage for f in model.layers[last].outputs if f.storage is not None} if model.layers else set()
    for key in final:
        spans[key][1] = last
    best, where = 0, 0
    for index in range(len(model.layers)):
        alive = sum(sizes[k] for k, (start, end) in spans.items() if start <= index <= end)
        if alive > best:
            best, where = alive, index
    count = sum(1 for start, end in spans.values() if start <= where <= end)
    return MemoryItem("activations alive at the peak", best,
                      f"{count} tensors alive while layer {model.layers[where].path} ({model.layers[where].kind}) runs"
                      f" = {best:,} B")


def _peak_without_facts(model: ModelIR, default_dtype: str) -> MemoryItem:
    best, where = 0, ""
    for layer in model.layers:
        sizes = [numel(s) for s in (*layer.input_shapes[:1], *layer.output_shapes[:1])]
        if None in sizes or not sizes:
            continue
        total = sum(s for s in sizes if s is not None) * dtype_bytes(default_dtype)
        if total > best:
            best, where = total, layer.path
    return MemoryItem("activations alive at the peak", best,
                      f"largest input + output of one layer ({where or 'none'}) = {best:,} B")
