"""Quantization boundaries (PyTorch's converted QuantStub): the input's shape, no parameters, no MACs.

attrs: groups (how many scales the quantizer keeps: 1 per tensor, or one per channel).
Buffers: a scale and a zero point per group.
"""

from __future__ import annotations

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, first_input, fmt
from auditor.rules.registry import register


class QuantizeRule(Rule):
    """Float to quantized tensor: 2*groups buffer elements (scale, zero point)."""

    kind = "quantize"

    def count(self, layer: Layer) -> ParamCount:
        groups = int(layer.attrs.get("groups", 1))
        return ParamCount(0, 0, f"0  (+ buffers 2*{groups} = {fmt(2 * groups)}: scale, zero point)", 2 * groups)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [first_input(layer)]


register(QuantizeRule())
