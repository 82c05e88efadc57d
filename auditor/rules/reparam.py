"""Weights a framework stores reparametrized: what that adds to the count of the layer that uses them.

A layer's attrs may carry "reparametrized": a tuple of {"tensor": name, "method": ..., "shape": the
logical tensor's shape, "dim": ..., ...}.  The layer's own rule counts the logical weight; each entry
adds what its method stores besides it (PyTorch's `torch.nn.utils` conventions):
  weight_norm (dim d): the weight is stored as direction v (the weight's shape) and magnitude g, one
    per index of dim d (a scalar when d is None): + shape[d] parameters;
  spectral_norm (dim d): the weight is stored as is, with power-iteration buffers u (shape[d]) and
    v (numel / shape[d]): + those buffers;
  orthogonal: stored as is; with "base" (use_trivialization) a base buffer of n*n, n the larger
    matrix dim;
  prune: stored as is (`weight_orig`) with a mask buffer of the weight's shape; "kept" (the mask's
    non-zeros, when known) gives the pruned count, shown as the "pruned" metric.
A method this module does not know leaves the layer unverified (RuleError).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from auditor.ir import Layer
from auditor.rules.base import ParamCount, RuleError, Term, fmt


def _entries(layer: Layer) -> tuple[dict[str, Any], ...]:
    return tuple(layer.attrs.get("reparametrized", ()))


def _extra(entry: dict[str, Any]) -> list[Term]:
    """What one reparametrized tensor stores besides the logical weight, as terms of the count."""
    shape = tuple(int(d) for d in entry["shape"])
    method, name, dim = entry["method"], entry["tensor"], entry.get("dim", 0)
    if method == "weight_norm":
        g = 1 if dim is None else shape[dim]
        return [Term(f"{g} ({name} weight_norm magnitude)", g)]
    if method == "spectral_norm":
        rows = shape[dim]
        cols = math.prod(shape) // rows
        return [Term(f"{rows}+{cols} ({name} spectral_norm u, v)", rows + cols, buffer=True)]
    if method == "orthogonal":
        n = max(shape[-2:]) if len(shape) >= 2 else shape[0]
        return [Term(f"{n}*{n} ({name} orthogonal base)", n * n, buffer=True)] if entry.get("base", False) else []
    if method == "prune":
        return [Term(f"{fmt(math.prod(shape))} ({name} pruning mask)", math.prod(shape), buffer=True)]
    raise RuleError(f"{name} is reparametrized by {method!r}, which no rule knows")


def adjust(counted: ParamCount, layer: Layer) -> ParamCount:
    """`counted` (the layer's logical weights) plus what each reparametrization stores besides them."""
    extra = [term for entry in _entries(layer) for term in _extra(entry)]
    if not extra:
        return counted
    base = counted.terms or (Term(counted.formula.rpartition(" = ")[0] or counted.formula, counted.params,
                                  counted.trainable == counted.params),
                             *([Term(fmt(counted.buffers), counted.buffers, buffer=True)] if counted.buffers else []))
    adjusted = ParamCount.of(*base, *extra)
    added = adjusted.params - counted.params
    return replace(adjusted, trainable=counted.trainable + added,
                   active=None if counted.active is None else counted.active + added)


def pruning(layer: Layer) -> tuple[int, int]:
    """(weights a pruning mask zeroes, weights under a mask), where the masks' values are known."""
    pruned = masked = 0
    for entry in _entries(layer):
        if entry["method"] == "prune" and entry.get("kept") is not None:
            size = math.prod(int(d) for d in entry["shape"])
            pruned, masked = pruned + size - int(entry["kept"]), masked + size
    return pruned, masked
