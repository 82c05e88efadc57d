"""Element-wise ops, and the learned tensors they apply: x*gamma is a `scale`, x+beta a `bias`.

Caffe2's Scale layers, norms decomposed into primitive ops (a Mul by gamma and an Add of beta after
the normalisation), and a position embedding added to the tokens all keep their weights this way; a
rule then checks that the learned tensor fits the axes of the activation it applies to.
"""

from __future__ import annotations

from typing import Any

from adapters.onnx_graph import FLOAT_TYPES
from adapters.onnx_translation import Known, Translation, dims, is_constant, real_inputs

LEARNED = {"Mul": "scale", "Div": "scale", "Add": "bias", "Sub": "bias"}
"""Binary ops that apply a learned tensor, and the kind of the layer they form."""


def learned_operand(node: Any, graph: Any, known: Known) -> tuple[str, str] | None:
    """(activation, learned tensor) when `node` applies one multi-element float constant to an activation."""
    inputs = real_inputs(node)
    if node.op_type not in LEARNED or len(inputs) != 2:
        return None
    constant = [i for i in inputs if is_constant(known, i)]
    if len(constant) != 1 or graph.dtype(constant[0]) not in FLOAT_TYPES:
        return None
    if node.op_type in ("Sub", "Div") and constant[0] != inputs[1]:
        return None  # c - x and c / x are not a learned shift or scale of x
    shape = dims(graph, constant[0])
    if not shape or _numel(shape) <= 1:
        return None
    data = inputs[0] if inputs[1] == constant[0] else inputs[1]
    return data, constant[0]


def elementwise(node: Any, graph: Any, known: Known) -> Translation:
    learned = learned_operand(node, graph, known)
    if learned is None:
        return Translation("elementwise", {"op": node.op_type}, real_inputs(node))
    data, constant = learned
    attrs = {"op": node.op_type, "shape": dims(graph, constant)}
    return Translation(LEARNED[node.op_type], attrs, [data], [("weight", constant)])


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
