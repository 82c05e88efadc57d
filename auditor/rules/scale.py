"""Learned element-wise scale (ConvNeXt's LayerScale): one trainable factor per position of `shape`.

scale attrs: shape (the learned tensor's shape, broadcast against the input's trailing dims).
Parameters prod(shape); MACs one per output element.
"""

from __future__ import annotations

import math

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, Term, attr, first_input, product_text, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import SaveContext, SavedTensor, saved_input, trains_weights
from auditor.rules.shapes import broadcast


class ScaleRule(Rule):
    """x * gamma with a learned gamma of the given shape."""

    kind = "scale"
    perturbable = ("shape",)

    def count(self, layer: Layer) -> ParamCount:
        shape = tuple(int(d) for d in attr(layer, "shape"))
        return ParamCount.of(Term(product_text(shape) or "1", math.prod(shape)))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [broadcast(first_input(layer), tuple(int(d) for d in attr(layer, "shape")))]

    def macs(self, layer: Layer) -> int:
        return static_numel(first_input(layer), "scaled input size")

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The input, for the learned factor's gradient."""
        return [saved_input()] if trains_weights(layer) else []


register(ScaleRule())
