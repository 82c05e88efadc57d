"""Learned element-wise tensors: a scale (ConvNeXt's LayerScale, Caffe2's Scale, a decomposed norm's gamma,
x*gamma) or a bias (x+beta, a position embedding added to the tokens).

scale / bias attrs: shape (the learned tensor's shape, broadcast against the input's trailing dims).
Parameters: one per position of the *input* along each axis where the tensor is not 1 (of the output
where the tensor widens a size-1 axis), so a tensor that does not fit the activation it applies to (7
channels against 8) is a mismatch, not a silent count.
MACs: a scale costs one per output element; a bias addition is not counted (the MAC convention).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from auditor.ir import Layer, Shape
from auditor.rules.base import (
    ParamCount,
    Rule,
    RuleError,
    Term,
    attr,
    first_input,
    product_text,
    static,
    static_numel,
)
from auditor.rules.registry import register
from auditor.rules.saved import saved_input, trains_weights
from auditor.rules.shapes import broadcast

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


def learned_dims(layer: Layer) -> tuple[int, ...]:
    """The input's size along every axis the learned tensor varies on (right-aligned, numpy style)."""
    shape = tuple(int(d) for d in attr(layer, "shape"))
    if not layer.input_shapes:
        raise RuleError(f"{layer.kind} {layer.path!r}: the input's shape is unknown, so the learned tensor "
                        f"{shape} cannot be checked against it")
    x = first_input(layer)
    out = layer.output_shapes[0] if layer.output_shapes else ()
    varying = []
    for offset, size in enumerate(reversed(shape)):
        if size == 1:
            continue
        axis = len(x) - 1 - offset
        dim = x[axis] if axis >= 0 else 1
        if dim == 1 and len(out) > offset:  # the tensor widens the activation: the output has its size
            dim = out[len(out) - 1 - offset]
        varying.append(static(dim, f"input axis {axis}"))
    return tuple(reversed(varying))


class LearnedTensorRule(Rule):
    """One learned value per input position along the axes the tensor varies on."""

    perturbable = ("shape",)

    def __init__(self, kind: str, costs_macs: bool) -> None:
        self.kind = kind  # type: ignore[misc]
        self.costs_macs = costs_macs

    def count(self, layer: Layer) -> ParamCount:
        varying = learned_dims(layer)
        return ParamCount.of(Term(product_text(varying) or "1", math.prod(varying)))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [broadcast(first_input(layer), tuple(int(d) for d in attr(layer, "shape")))]

    def macs(self, layer: Layer) -> int:
        return static_numel(first_input(layer), "scaled input size") if self.costs_macs else 0

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """A scale keeps its input for the learned factor's gradient; a bias's gradient needs nothing."""
        return [saved_input()] if self.costs_macs and trains_weights(layer) else []


register(LearnedTensorRule("scale", costs_macs=True))
register(LearnedTensorRule("bias", costs_macs=False))
