"""Input preprocessing with learned statistics (Keras Normalization): no MACs beyond one per element.

input_normalization attrs: feature_shape (the input dims along the kept axes: one mean and one
variance per position), stats ("params": Keras keeps mean, variance and a scalar sample count as
non-trainable weights after `adapt()`; "none": mean and variance were given as constants).
"""

from __future__ import annotations

import math

from auditor.ir import Layer, Shape
from auditor.rules.base import (
    NO_PARAMS,
    ParamCount,
    Rule,
    RuleError,
    Term,
    attr,
    first_input,
    product_text,
    static_numel,
)
from auditor.rules.registry import register


class InputNormalizationRule(Rule):
    """(x - mean) / sqrt(variance): 2*prod(feature_shape) + 1 non-trainable weights, or none."""

    kind = "input_normalization"
    perturbable = ("stats",)
    choices = {"stats": ("params", "none")}
    conventions = {"stats": "none"}
    """Statistics learned by `adapt()` are non-trainable weights in Keras only: compared without them."""
    codes = {"stats": "bn_convention"}

    def count(self, layer: Layer) -> ParamCount:
        stats = attr(layer, "stats")
        if stats == "none":
            return NO_PARAMS
        if stats != "params":
            raise RuleError(f"stats must be 'params' or 'none', not {stats!r}")
        shape = tuple(int(d) for d in attr(layer, "feature_shape"))
        text = product_text(shape) if shape else "1"
        return ParamCount.of(Term(f"2*{text} + 1 (mean, variance, count)", 2 * math.prod(shape) + 1, trainable=False))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [first_input(layer)]

    def macs(self, layer: Layer) -> int:
        return static_numel(first_input(layer), "normalised input size")


register(InputNormalizationRule())
