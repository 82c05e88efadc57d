"""Convolutions called as functions (F.conv2d inside a module's forward): MACs and shape, no parameters.

The weight belongs to whatever module holds it (and is counted there); this layer only stands for the
operator.  Canonical attrs are the conv ones (see `auditor.rules.conv`); inputs are [x, weight].
"""

from __future__ import annotations

from auditor.ir import Layer
from auditor.rules.base import NO_PARAMS, ParamCount
from auditor.rules.conv import ConvRule, ConvTransposeRule
from auditor.rules.registry import register
from auditor.rules.saved import INPUT, SaveContext, SavedTensor, fact, requires_grad, saved_input


def _operands_saved(layer: Layer) -> list[SavedTensor]:
    """conv(x, w): x when w needs a gradient, w (unless it is a parameter) when x needs one."""
    saved = [saved_input("input", 0)] if requires_grad(layer, 1) else []
    weight = fact(layer, INPUT, 1)
    if requires_grad(layer, 0) and len(layer.input_shapes) > 1 and not (weight and weight.model_state):
        saved.append(saved_input("weight", 1))
    return saved


class ConvOpRule(ConvRule):
    """A functional convolution: the conv rule's shape and MACs, parameters owned elsewhere."""

    kind = "conv_op"
    family = ""
    columns = {}
    aliases = ()
    table_prefixes = ()

    def count(self, layer: Layer) -> ParamCount:
        return NO_PARAMS

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        return _operands_saved(layer)


class ConvTransposeOpRule(ConvTransposeRule):
    """A functional transposed convolution: shape and MACs only."""

    kind = "conv_transpose_op"
    family = ""
    columns = {}
    aliases = ()
    table_prefixes = ()

    def count(self, layer: Layer) -> ParamCount:
        return NO_PARAMS

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        return _operands_saved(layer)


register(ConvOpRule())
register(ConvTransposeOpRule())
