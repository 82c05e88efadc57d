"""Nodes that together form one layer: a product and the Add that gives it its bias, and the rescale that
turns an integer product back into floats.

Dynamic quantization writes `DynamicQuantizeLinear -> MatMulInteger/ConvInteger -> Cast -> Mul(x_scale *
w_scale) -> Add(bias)`: the weight scale is quantization metadata of the product, the bias its bias.
`plan` finds these chains before the walk (the scale product comes before the product in the file);
`fuse` then extends a node's translation with what its chain contributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.onnx_translation import Translation

INTEGER_PRODUCTS = {"MatMulInteger", "ConvInteger"}
BIAS_KINDS = {"dense", "conv"}
RECURRENT = {"LSTM", "GRU", "RNN", "DynamicQuantizeLSTM"}
STATE_MOVERS = {"Expand", "Tile", "Reshape", "Unsqueeze", "Squeeze", "Concat", "Identity", "Cast", "Transpose"}
"""Ops an exporter puts between a constant initial state and the recurrent op (a zero state expanded to
the batch size at run time)."""


class Plan:
    """Nodes absorbed into another node's layer, and the rescale chains of integer products."""

    __slots__ = ("absorbed", "rescales", "states")

    def __init__(self) -> None:
        self.absorbed: set[int] = set()
        self.rescales: dict[int, tuple[list[str], str]] = {}
        """id of an integer product -> (its weight-scale constants, the output of its rescale)."""
        self.states: set[str] = set()
        """Constants that become a recurrent op's initial state: constant inputs, not parameters."""


def plan(graph: Any, is_constant: Callable[[str], bool]) -> Plan:
    found = Plan()
    for node in graph.nodes:
        if node.op_type in INTEGER_PRODUCTS and not node.domain:
            _rescale(node, graph, is_constant, found)
        if node.op_type in RECURRENT:
            for name in node.input[5:7]:
                _state_constants(name, graph, is_constant, found.states)
    return found


def _state_constants(name: str, graph: Any, is_constant: Callable[[str], bool], states: set[str]) -> None:
    """The constants an initial state is made of, back through the ops that only move it."""
    pending, seen = [name], set()
    while pending:
        value = pending.pop()
        if not value or value in seen:
            continue
        seen.add(value)
        if is_constant(value):
            states.add(value)
            continue
        producer = graph.producers.get(value)
        if producer is not None and producer.op_type in STATE_MOVERS and not producer.domain:
            moved = producer.input[:1] if producer.op_type != "Concat" else producer.input
            pending.extend(moved)


def _only_user(graph: Any, name: str, op_type: str) -> Any:
    users = graph.consumers.get(name, [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type and not users[0].domain else None


def _rescale(node: Any, graph: Any, is_constant: Callable[[str], bool], found: Plan) -> None:
    cast = _only_user(graph, node.output[0], "Cast")
    mul = _only_user(graph, cast.output[0], "Mul") if cast is not None else None
    if mul is None:
        return
    scale = next((i for i in mul.input if i != cast.output[0]), "")
    product = graph.producers.get(scale)
    if is_constant(scale):
        scales = [scale]
    elif product is not None and product.op_type == "Mul" and len(graph.consumers.get(scale, [])) == 1:
        scales = [i for i in product.input if is_constant(i)]
        found.absorbed.add(id(product))
    else:
        return
    found.absorbed.update((id(cast), id(mul)))
    found.rescales[id(node)] = (scales, mul.output[0])


def fuse(node: Any, translation: Translation, graph: Any, fusions: Plan,
         weight_like: Callable[[str], bool]) -> list[str]:
    """Fold the nodes that complete `node`'s layer into `translation`; the fused layer's outputs."""
    outputs = list(node.output)
    if id(node) in fusions.rescales:
        scales, last = fusions.rescales[id(node)]
        translation.quantization.extend(scales)
        outputs = [last]
    if translation.kind in BIAS_KINDS and not translation.attrs.get("use_bias") and outputs:
        add = _bias_add(outputs[0], translation, graph, weight_like)
        if add is not None:
            fusions.absorbed.add(id(add))
            outputs = list(add.output)
    return outputs


def _bias_add(output: str, translation: Translation, graph: Any, weight_like: Callable[[str], bool]) -> Any:
    """The Add after a product whose other operand is a constant with one value per output feature."""
    add = _only_user(graph, output, "Add")
    if add is None:
        return None
    other = [i for i in add.input if i != output]
    if len(other) != 1 or not weight_like(other[0]):
        return None
    if not _is_bias(tuple(graph.shape(other[0]) or ()), translation):
        return None
    translation.weights.append(("bias", other[0]))
    translation.attrs["use_bias"] = True
    return add


def _is_bias(shape: tuple[Any, ...], translation: Translation) -> bool:
    """One value per output feature: (..., N) for a dense layer, (C, 1, ..., 1) for a channels-first conv."""
    attrs = translation.attrs
    if translation.kind == "dense":
        width, tail = attrs.get("out_features"), 0
    else:
        width, tail = attrs.get("out_channels"), len(attrs.get("kernel_size", ()))
    if len(shape) < tail + 1 or shape[len(shape) - tail - 1] != width:
        return False
    return all(d == 1 for i, d in enumerate(shape) if i != len(shape) - tail - 1)
