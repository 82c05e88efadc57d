"""Weight-free standard ONNX operators whose output shape a rule recomputes (pooling, resize, reshape ...).

Every other standard operator without weights is a `tensor_op` (no parameters; its output shape is
taken from shape inference), so it reads `no-params`, never `unverified`.
"""

from __future__ import annotations

from typing import Any

from adapters.onnx_translation import Known, Translation, optional_input, real_inputs, window

ACTIVATIONS = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus",
    "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Clip", "Erf", "Swish",
}
SOFTMAX = {"Softmax", "LogSoftmax", "Hardmax"}
ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "And", "Or", "Xor", "Equal", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "Mod", "BitShift", "Where", "Sqrt", "Exp", "Log", "Neg",
    "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Not", "IsNaN", "IsInf", "Sign",
}


def pool(node: Any, graph: Any, known: Known) -> Translation:
    attrs_in = graph.attrs(node)
    kernel = tuple(attrs_in.get("kernel_shape") or ())
    attrs = window(attrs_in, len(kernel), kernel)
    attrs.update(
        op={"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp"}[node.op_type],
        ceil_mode=bool(attrs_in.get("ceil_mode", 0)),
        count_include_pad=bool(attrs_in.get("count_include_pad", 0)),
    )
    return Translation("pool", attrs, [node.input[0]])


def global_pool(node: Any, graph: Any, known: Known) -> Translation:
    shape = graph.shape(node.input[0]) or ()
    op = {"GlobalAveragePool": "avg", "GlobalMaxPool": "max", "GlobalLpPool": "lp"}[node.op_type]
    attrs = {"op": op, "spatial_rank": max(len(shape) - 2, 1), "keepdims": True, "layout": "channels_first"}
    return Translation("global_pool", attrs, [node.input[0]])


def resize(node: Any, graph: Any, known: Known) -> Translation:
    x = node.input[0]
    if node.op_type == "Upsample":
        scales_input = optional_input(node, 1)
        scales = graph.int_values(scales_input) if scales_input else graph.attrs(node).get("scales")
        sizes = None
    else:
        scales = graph.int_values(node.input[2]) if optional_input(node, 2) else None
        sizes = graph.int_values(node.input[3]) if optional_input(node, 3) else None
    attrs: dict[str, Any] = {"layout": "channels_first"}
    if sizes:
        attrs["size"] = tuple(int(s) for s in sizes[2:])
    elif scales:
        attrs["scale"] = tuple(float(s) for s in scales[2:])
    else:
        return Translation("tensor_op", {"op": node.op_type}, [x], constants=real_inputs(node)[1:])
    return Translation("resize", attrs, [x], constants=real_inputs(node)[1:])


def reshape(node: Any, graph: Any, known: Known) -> Translation:
    target = graph.int_values(node.input[1]) if len(node.input) > 1 else None
    if target is None:
        return Translation("tensor_op", {"op": "Reshape"}, real_inputs(node))
    attrs = {"shape": tuple(int(t) for t in target), "allowzero": bool(graph.attrs(node).get("allowzero", 0))}
    return Translation("reshape", attrs, [node.input[0]], constants=[node.input[1]])


def pad(node: Any, graph: Any, known: Known) -> Translation:
    x = node.input[0]
    values = graph.attrs(node).get("pads")
    if values is None and optional_input(node, 1):
        values = graph.int_values(node.input[1])
    rank = len(graph.shape(x) or ())
    if values is None or optional_input(node, 3) or len(values) != 2 * rank:
        return Translation("tensor_op", {"op": "Pad"}, real_inputs(node))
    pads = tuple((int(values[i]), int(values[i + rank])) for i in range(rank))
    return Translation("pad", {"pads": pads}, [x], constants=real_inputs(node)[1:])


def attention(node: Any, graph: Any, known: Known) -> Translation:
    """ONNX Attention (opset 23): q, k, v of (B, H, S, d), or (B, S, H*d) with the head counts as attributes."""
    attrs_in = graph.attrs(node)
    query = graph.shape(node.input[0])
    attrs: dict[str, Any] = {}
    if query is not None and len(query) == 3:
        attrs = {"num_heads": attrs_in.get("q_num_heads"), "kv_num_heads": attrs_in.get("kv_num_heads")}
    return Translation("sdpa", attrs, [i for i in node.input[:3] if i])


def simple(kind: str) -> Any:
    """A translator to `kind` with the op name as its only attribute."""

    def translate(node: Any, graph: Any, known: Known) -> Translation:
        data = real_inputs(node) if kind == "elementwise" else [node.input[0]] if node.input else []
        return Translation(kind, {"op": node.op_type}, data)

    return translate


def flatten(node: Any, graph: Any, known: Known) -> Translation:
    return Translation("flatten", {"mode": "2d", "axis": int(graph.attrs(node)["axis"])}, [node.input[0]])


def concat(node: Any, graph: Any, known: Known) -> Translation:
    return Translation("concat", {"axis": int(graph.attrs(node)["axis"])}, real_inputs(node))


def transpose(node: Any, graph: Any, known: Known) -> Translation:
    rank = len(graph.shape(node.input[0]) or ())
    perm = graph.attrs(node).get("perm")
    if perm is None and graph.shape(node.input[0]) is None:
        return Translation("tensor_op", {"op": "Transpose"}, [node.input[0]])
    return Translation("transpose", {"perm": tuple(perm if perm is not None else reversed(range(rank)))},
                       [node.input[0]])


def softmax(node: Any, graph: Any, known: Known) -> Translation:
    return Translation("softmax", {"op": node.op_type, "axis": int(graph.attrs(node)["axis"])}, [node.input[0]])


def tensor_op(node: Any, graph: Any, known: Known) -> Translation:
    """Any other weight-free standard op: no parameters, output shape from shape inference."""
    return Translation("tensor_op", {"op": node.op_type}, real_inputs(node))
