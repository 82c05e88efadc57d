"""Which elements of a stored tensor the Slice and Gather ops at constant indices read, and the name of each part.

Such reads may repeat elements (a Gather at indices [0, 0, 1]) or leave some unread (rows 0..7 of a
64-row table), so counting each read part would miscount what the file holds.  Only when the reads
of a tensor partition it exactly (a fused weight cut into its q, k and v parts by three Slices) may
each part be counted where it is used; otherwise the tensor is counted whole, once.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

Index = tuple[tuple[int, ...] | None, ...]
"""Per axis of the source: the positions read, in order and with repeats (None: the whole axis)."""

GATHER_LIMIT = 1 << 16
"""Gather indices read from the file to compare reads (beyond this, the read is left unknown)."""


def read_index(op: str, inputs: list[Any], attrs: dict[str, Any], shape: tuple[int, ...]) -> Index | None:
    """The positions a Slice or Gather reads from a tensor of `shape` (inputs: the index operands'
    values, None where not constant), else None when they cannot be known."""
    if op == "Gather":
        return _gather(inputs[0] if inputs else None, int(attrs.get("axis", 0)), shape)
    if op == "Slice":
        starts, ends, axes, steps = (list(inputs) + [None] * 4)[:4]
        return _slice(starts if starts is not None else attrs.get("starts"),
                      ends if ends is not None else attrs.get("ends"),
                      axes if axes is not None else attrs.get("axes"), steps, shape)
    return None


def _gather(indices: list[int] | None, axis: int, shape: tuple[int, ...]) -> Index | None:
    axis = axis + len(shape) if axis < 0 else axis
    if indices is None or not 0 <= axis < len(shape):
        return None
    dim = shape[axis]
    positions = tuple(_from_end(int(i), dim) for i in indices)
    if any(not 0 <= p < dim for p in positions):
        return None
    return tuple(positions if a == axis else None for a in range(len(shape)))


def _slice(starts: Any, ends: Any, axes: Any, steps: Any, shape: tuple[int, ...]) -> Index | None:
    """ONNX Slice semantics: negative starts/ends count from the end, then clamp to the axis."""
    if starts is None or ends is None:
        return None
    axes = list(axes) if axes is not None else list(range(len(starts)))
    steps = list(steps) if steps is not None else [1] * len(starts)
    index: list[tuple[int, ...] | None] = [None] * len(shape)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=False):
        axis = int(axis) + len(shape) if int(axis) < 0 else int(axis)
        if not 0 <= axis < len(shape) or int(step) == 0:
            return None
        dim, step = shape[axis], int(step)
        low, high = (0, dim) if step > 0 else (-1, dim - 1)
        first = min(max(_from_end(int(start), dim), 0), high)
        last = min(max(_from_end(int(end), dim), low), high)
        index[axis] = tuple(range(first, last, step))
    return tuple(index)


def _from_end(position: int, dim: int) -> int:
    return position + dim if position < 0 else position


def describe_region(graph: Any, node: Any, output: str) -> str | None:
    """"slice(axes=..., starts=...)"-style description of the part `output` takes, when it is constant."""
    attrs = graph.attrs(node)

    def values(index: int, name: str) -> Any:
        if len(node.input) > index and node.input[index]:
            return graph.int_values(node.input[index])
        return attrs.get(name)

    if node.op_type == "Slice":
        described = [values(i, n) for i, n in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))]
        return None if described[0] is None or described[1] is None else f"slice{tuple(map(_tuple, described))}"
    if node.op_type == "Gather":
        indices = values(1, "")
        return None if indices is None else f"gather(axis={attrs.get('axis', 0)}, {tuple(indices)})"
    sizes = values(1, "split")
    index = list(node.output).index(output)
    if sizes is None:
        return f"split(axis={attrs.get('axis', 0)}, {index} of {len(node.output)})"
    return f"split(axis={attrs.get('axis', 0)}, from {sum(sizes[:index])}, {sizes[index]})"


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def partitioned(shape: tuple[int, ...], reads: list[Index | None]) -> bool:
    """True when the reads together take every element of the tensor exactly once."""
    if not reads or any(r is None for r in reads):
        return False
    known: list[Index] = [r for r in reads if r is not None]
    sizes = [reduce(lambda n, a: n * a, (len(p) if p is not None else d for p, d in zip(r, shape, strict=True)), 1)
             for r in known]
    if sum(sizes) != reduce(lambda n, d: n * d, shape, 1):
        return False
    return _each_once(shape, known)


def _each_once(shape: tuple[int, ...], reads: list[Index]) -> bool:
    """How often each element is read, on a grid that merges the positions every read treats alike."""
    import numpy as np

    factors = []
    for axis, dim in enumerate(shape):
        counts = np.ones((len(reads), dim), dtype=np.int64)
        for row, read in enumerate(reads):
            if read[axis] is not None:
                counts[row] = np.bincount(np.asarray(read[axis], dtype=np.int64), minlength=dim)
        factors.append(np.unique(counts, axis=1) if dim else counts)
    times = sum(reduce(np.multiply.outer, [f[row] for f in factors]) for row in range(len(reads)))
    return bool(np.all(np.asarray(times) == 1))
