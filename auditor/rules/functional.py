"""Convolutions called as functions (F.conv2d inside a module's forward): MACs and shape, no parameters.

The weight belongs to whatever module holds it (and is counted there); this layer only stands for the
operator.  Canonical attrs are the conv ones (see `auditor.rules.conv`); inputs are [x, weight].
"""

from __future__ import annotations

from auditor.ir import Layer
from auditor.rules.base import NO_PARAMS, ParamCount
from auditor.rules.conv import ConvRule, ConvTransposeRule
from auditor.rules.registry import register


class ConvOpRule(ConvRule):
    """A functional convolution: the conv rule's shape and MACs, parameters owned elsewhere."""

    kind = "conv_op"
    family = ""
    columns = {}
    aliases = ()
    table_prefixes = ()

    def count(self, layer: Layer) -> ParamCount:
        return NO_PARAMS


class ConvTransposeOpRule(ConvTransposeRule):
    """A functional transposed convolution: shape and MACs only."""

    kind = "conv_transpose_op"
    family = ""
    columns = {}
    aliases = ()
    table_prefixes = ()

    def count(self, layer: Layer) -> ParamCount:
        return NO_PARAMS


register(ConvOpRule())
register(ConvTransposeOpRule())
