"""Small shape helpers shared by several rule families (broadcasting, axis normalisation)."""

from __future__ import annotations

from auditor.ir import Dim, Shape
from auditor.rules.base import RuleError
from auditor.rules.spatial import UNKNOWN


def broadcast(*shapes: Shape) -> Shape:
    """numpy broadcasting of several shapes; a symbolic dim broadcasts against 1 and itself."""
    if shapes and all(s == shapes[0] for s in shapes):  # the usual x + y of one shape: it is the result
        return tuple(shapes[0])
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = {d for d in dims if isinstance(d, int) and d != 1}
        symbolic = {d for d in dims if not isinstance(d, int)}
        if len(known) > 1:
            raise RuleError(f"shapes {list(shapes)} do not broadcast")
        if known:
            out.append(known.pop())
        elif symbolic:
            out.append(symbolic.pop() if len(symbolic) == 1 else UNKNOWN)
        else:
            out.append(1)
    return tuple(out)


def batch_dims_merge(shape: Shape, strides: tuple[int, ...]) -> bool:
    """The leading (batch) dims of a matrix-shaped tensor flatten into one without a copy."""
    dims = [(d, s) for d, s in zip(shape[:-2], strides[:-2]) if d != 1]
    return all(outer == inner * size for (_, outer), (size, inner) in zip(dims, dims[1:]))


def normalize_axis(axis: int, rank: int) -> int:
    """A possibly negative axis as an index into a shape of `rank` dims."""
    if not -rank <= axis < rank:
        raise RuleError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def product_dim(dims: Shape) -> Dim:
    """The product of `dims`, or UNKNOWN when one of them is symbolic."""
    total = 1
    for d in dims:
        if not isinstance(d, int):
            return UNKNOWN
        total *= d
    return total
