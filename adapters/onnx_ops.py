"""ONNX operator -> canonical kind and attrs, with the ONNX schema's defaults written explicitly.

Each translator reads one node's attributes and the shapes around it and says which inputs are data,
which are weights (and which of those are statistics rather than trainable weights).  No counting
happens here.  `OP_TRANSLATORS` maps (domain, op_type) to a translator: the built-ins below, plus
what users register for their own domains (`adapters.onnx.register_op`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import InputError
from auditor.ir import Shape
from auditor.registry import Registry

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
TENSOR_OPS = {
    "Shape", "Size", "Slice", "Squeeze", "Unsqueeze", "Gather", "GatherElements", "GatherND", "ScatterND",
    "ScatterElements", "Expand", "Tile", "ConstantOfShape", "Range", "Split", "NonZero", "TopK", "ArgMax",
    "ArgMin", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
    "ReduceLogSumExp", "ReduceSumSquare", "CumSum", "Trilu", "OneHot", "DepthToSpace", "SpaceToDepth",
    "CastLike", "EyeLike", "SequenceConstruct", "SplitToSequence", "ConcatFromSequence", "IsNaN",
}


def tensor_op_names() -> set[str]:
    """Known weight-free ONNX ops whose output shapes are taken from shape inference."""
    return TENSOR_OPS


@dataclass
class Translation:
    """One node in canonical terms: kind, attrs, which inputs are data and which are weights."""

    kind: str
    attrs: dict[str, Any]
    data_inputs: list[str]
    weights: list[tuple[str, str]] = field(default_factory=list)
    """(slot, input name): "weight", "bias", "running_mean" ..."""
    statistics: set[str] = field(default_factory=set)
    """Weight slots that are statistics (non-trainable parameters), e.g. BatchNorm's mean/variance."""
    constants: list[str] = field(default_factory=list)
    """Constant inputs that are not parameters (RNN initial states, shape tensors)."""


Translator = Callable[[Any, Any, dict[str, bool]], Translation]
"""(node, graph, is_constant) -> Translation: an onnx NodeProto; the graph index (`shape(name)`,
`tensor(name)`, `int_values(name)`); which of the node's inputs are constants (weights)."""


def _attr(node: Any, name: str, default: Any) -> Any:
    """Attribute `name` of `node` as a Python value; `default` is the ONNX schema's default."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _input(node: Any, index: int) -> str | None:
    return node.input[index] if len(node.input) > index and node.input[index] else None


def _padding(node: Any, rank: int) -> Any:
    auto_pad = _attr(node, "auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return auto_pad.lower()
    if auto_pad == "VALID":
        return "valid"
    pads = list(_attr(node, "pads", [0] * (2 * rank)))
    return tuple((int(pads[i]), int(pads[i + rank])) for i in range(rank))


def _window(node: Any, rank: int, kernel: tuple[int, ...]) -> dict[str, Any]:
    return {
        "kernel_size": kernel,
        "stride": tuple(_attr(node, "strides", [1] * rank)),
        "dilation": tuple(_attr(node, "dilations", [1] * rank)),
        "padding": _padding(node, rank),
        "layout": "channels_first",
    }


def _channels(shape: Shape | None, fallback: int) -> int:
    return shape[1] if shape and len(shape) > 1 and isinstance(shape[1], int) else fallback


def _dynamic(node: Any) -> Translation:
    """A weighted op whose weight is computed at run time: the count cannot be attributed."""
    return Translation(f"onnx:{node.op_type} (weight computed in the graph)", {"op": node.op_type},
                       [i for i in node.input if i])


def conv(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, w, b = node.input[0], node.input[1], _input(node, 2)
    wshape = graph.shape(w)
    if not const.get(w) or not wshape:
        return _dynamic(node)
    rank, group = len(wshape) - 2, int(_attr(node, "group", 1))
    kernel = tuple(_attr(node, "kernel_shape", wshape[2:]))
    attrs = _window(node, rank, kernel)
    transposed = node.op_type == "ConvTranspose"
    if transposed:
        attrs["output_padding"] = tuple(_attr(node, "output_padding", [0] * rank))
        cin, cout = _channels(graph.shape(x), wshape[0]), wshape[1] * group
        expected = wshape[0]
    else:
        cin, cout = _channels(graph.shape(x), wshape[1] * group), wshape[0]
        expected = wshape[1] * group
    if cin != expected:
        raise InputError(f"{node.op_type} node {node.name!r}: its input has {cin} channels but its weight "
                         f"{tuple(wshape)} (group={group}) takes {expected}; not a valid ONNX graph")
    attrs.update(in_channels=cin, out_channels=cout, groups=group, use_bias=b is not None and const.get(b, False))
    weights = [("weight", w)] + ([("bias", b)] if attrs["use_bias"] else [])
    data = [x] + ([b] if b and not attrs["use_bias"] else [])
    return Translation("conv_transpose" if transposed else "conv", attrs, data, weights)


def gemm(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    a, b, c = node.input[0], node.input[1], _input(node, 2)
    trans_a, trans_b = int(_attr(node, "transA", 0)), int(_attr(node, "transB", 0))
    bshape = graph.shape(b)
    if not const.get(b) or not bshape or len(bshape) != 2:
        return _matmul_of(node, graph, [a, b], trans_a, trans_b)
    fin, fout = (bshape[1], bshape[0]) if trans_b else (bshape[0], bshape[1])
    use_bias = c is not None and const.get(c, False)
    weights = [("weight", b)] + ([("bias", c)] if use_bias else [])
    translation = Translation("dense", _dense_attrs(graph, a, fin, fout, use_bias), [a], weights)
    if trans_a:
        translation.kind = "onnx:Gemm (transA)"
    return translation


def _dense_attrs(graph: Any, data: str, fin: int, fout: int, use_bias: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {"in_features": fin, "out_features": fout, "use_bias": use_bias}
    source = graph.flattened_from(data)
    if source is not None:
        attrs["flattened_from"] = source
    return attrs


def _matmul_of(node: Any, graph: Any, inputs: list[str], trans_a: int = 0, trans_b: int = 0) -> Translation:
    if trans_a or trans_b:
        return Translation("onnx:Gemm (transposed operands)", {"op": node.op_type}, inputs)
    return Translation("matmul", {}, inputs)


def matmul(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    a, b = node.input[0], node.input[1]
    bshape = graph.shape(b)
    if const.get(b) and bshape and len(bshape) == 2 and not const.get(a):
        return Translation("dense", _dense_attrs(graph, a, bshape[0], bshape[1], False), [a], [("weight", b)])
    return _matmul_of(node, graph, [a, b])


def batch_norm(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, scale, bias, mean, var = node.input[:5]
    if not all(const.get(n) for n in (scale, bias, mean, var)):
        return _dynamic(node)
    features = _channels(graph.shape(x), (graph.shape(scale) or (0,))[0])
    attrs = {"num_features": features, "scale": True, "center": True, "stats": "params",
             "tracks_batches": False, "layout": "channels_first"}
    weights = [("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", var)]
    return Translation("batch_norm", attrs, [x], weights, statistics={"running_mean", "running_var"})


def _normalized_shape(graph: Any, x: str, axis: int, fallback: str) -> tuple[int, ...]:
    shape = graph.shape(x)
    if shape:
        tail = shape[axis:] if axis < 0 else shape[axis:]
        if tail and all(isinstance(d, int) for d in tail):
            return tuple(tail)  # type: ignore[arg-type]
    return tuple(graph.shape(fallback) or ())


def layer_norm(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, scale, bias = node.input[0], node.input[1], _input(node, 2)
    if not const.get(scale):
        return _dynamic(node)
    axis = int(_attr(node, "axis", -1))
    center = bias is not None and const.get(bias, False)
    attrs = {"normalized_shape": _normalized_shape(graph, x, axis, scale), "scale": True, "center": center}
    weights = [("weight", scale)] + ([("bias", bias)] if center else [])
    kind = "rms_norm" if node.op_type == "RMSNormalization" else "layer_norm"
    return Translation(kind, attrs, [x], weights)


def instance_norm(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, scale, bias = node.input[:3]
    features = _channels(graph.shape(x), (graph.shape(scale) or (0,))[0])
    attrs = {"num_features": features, "scale": True, "center": True, "stats": "none", "tracks_batches": False}
    return Translation("instance_norm", attrs, [x], [("weight", scale), ("bias", bias)])


def group_norm(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, scale, bias = node.input[:3]
    channels = _channels(graph.shape(x), (graph.shape(scale) or (0,))[0])
    attrs = {"num_groups": int(_attr(node, "num_groups", 1)), "num_channels": channels, "scale": True, "center": True}
    return Translation("group_norm", attrs, [x], [("weight", scale), ("bias", bias)])


def gather(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    data, indices = node.input[0], node.input[1]
    shape = graph.shape(data)
    tensor = graph.tensor(data) if const.get(data) else None
    if tensor is not None and tensor.data_type in (1, 10, 11, 16) and shape and len(shape) == 2 \
            and int(_attr(node, "axis", 0)) == 0:
        return Translation("embedding", {"num_embeddings": shape[0], "embedding_dim": shape[1]}, [indices],
                           [("weight", data)])
    return Translation("tensor_op", {"op": "Gather"}, [i for i in node.input if i])


def prelu(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    """PRelu's slope broadcasts to the input (numpy style, from the right): the input axes along which the
    slope has size 1 share one alpha, as Keras's shared_axes say; the rule recounts from the input's dims."""
    x, slope = node.input[0], node.input[1]
    if not const.get(slope):
        return Translation("elementwise", {"op": "PRelu"}, [x, slope])
    shape, slope_shape = graph.shape(x), graph.shape(slope)
    attrs: dict[str, Any] = {}
    if shape is not None and slope_shape is not None and len(slope_shape) <= len(shape):
        aligned = (1,) * (len(shape) - len(slope_shape)) + tuple(slope_shape)
        attrs["shared_axes"] = tuple(axis for axis in range(1, len(shape)) if aligned[axis] == 1)
    return Translation("prelu", attrs, [x], [("weight", slope)])


def recurrent(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x, w, r, b = node.input[0], node.input[1], node.input[2], _input(node, 3)
    wshape = graph.shape(w)
    if not (const.get(w) and const.get(r)) or not wshape:
        return _dynamic(node)
    layout = int(_attr(node, "layout", 0))
    attrs = {
        "cell": node.op_type.lower(),
        "input_size": wshape[2],
        "hidden_size": int(_attr(node, "hidden_size", 0)),
        "num_layers": 1,
        "bidirectional": _attr(node, "direction", "forward") == "bidirectional",
        "bias_vectors": 2 if b is not None and const.get(b) else 0,
        "proj_size": 0,
        "batch_first": layout == 1,
    }
    weights = [("weight_ih", w), ("weight_hh", r)] + ([("bias", b)] if attrs["bias_vectors"] else [])
    states = [n for n in node.input[4:] if n]
    return Translation("rnn", attrs, [x], weights, constants=states)


def pool(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    rank = len(_attr(node, "kernel_shape", []))
    attrs = _window(node, rank, tuple(_attr(node, "kernel_shape", [])))
    attrs.update(
        op={"MaxPool": "max", "AveragePool": "avg", "LpPool": "lp"}[node.op_type],
        ceil_mode=bool(_attr(node, "ceil_mode", 0)),
        count_include_pad=bool(_attr(node, "count_include_pad", 0)),
    )
    return Translation("pool", attrs, [node.input[0]])


def global_pool(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    shape = graph.shape(node.input[0]) or ()
    op = {"GlobalAveragePool": "avg", "GlobalMaxPool": "max", "GlobalLpPool": "lp"}[node.op_type]
    attrs = {"op": op, "spatial_rank": max(len(shape) - 2, 1), "keepdims": True, "layout": "channels_first"}
    return Translation("global_pool", attrs, [node.input[0]])


def resize(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x = node.input[0]
    if node.op_type == "Upsample":
        scales, sizes = graph.int_values(node.input[1]) if _input(node, 1) else None, None
    else:
        scales = graph.int_values(node.input[2]) if _input(node, 2) else None
        sizes = graph.int_values(node.input[3]) if _input(node, 3) else None
    attrs: dict[str, Any] = {"layout": "channels_first"}
    if sizes:
        attrs["size"] = tuple(int(s) for s in sizes[2:])
    elif scales:
        attrs["scale"] = tuple(float(s) for s in scales[2:])
    return Translation("resize", attrs, [x], constants=[n for n in node.input[1:] if n])


def reshape(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    target = graph.int_values(node.input[1])
    if target is None:
        return Translation("tensor_op", {"op": "Reshape"}, [node.input[0]])
    return Translation("reshape", {"shape": tuple(int(t) for t in target),
                                   "allowzero": bool(_attr(node, "allowzero", 0))}, [node.input[0]])


def pad(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    x = node.input[0]
    values = _attr(node, "pads", None)
    if values is None and _input(node, 1):
        values = graph.int_values(node.input[1])
    rank = len(graph.shape(x) or ())
    if values is None or _input(node, 3) or len(values) != 2 * rank:
        return Translation("tensor_op", {"op": "Pad"}, [x])
    return Translation("pad", {"pads": tuple((int(values[i]), int(values[i + rank])) for i in range(rank))}, [x])


def attention(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    return Translation("sdpa", {}, [i for i in node.input[:3] if i])


def _simple(kind: str, **fixed: Any) -> Translator:
    def translate(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
        attrs = {"op": node.op_type, **fixed}
        return Translation(kind, attrs, [i for i in node.input if i] if kind == "elementwise" else [node.input[0]])

    return translate


def flatten(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    return Translation("flatten", {"mode": "2d", "axis": int(_attr(node, "axis", 1))}, [node.input[0]])


def concat(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    return Translation("concat", {"axis": int(_attr(node, "axis", 0))}, [i for i in node.input if i])


def transpose(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    rank = len(graph.shape(node.input[0]) or ())
    perm = tuple(_attr(node, "perm", list(reversed(range(rank)))))
    return Translation("transpose", {"perm": perm}, [node.input[0]])


def softmax(node: Any, graph: Any, const: dict[str, bool]) -> Translation:
    return Translation("softmax", {"op": node.op_type, "axis": int(_attr(node, "axis", -1))}, [node.input[0]])


TRANSLATORS: dict[tuple[str, str], Translator] = {
    ("", "Conv"): conv,
    ("", "ConvTranspose"): conv,
    ("", "Gemm"): gemm,
    ("", "MatMul"): matmul,
    ("", "BatchNormalization"): batch_norm,
    ("", "LayerNormalization"): layer_norm,
    ("", "RMSNormalization"): layer_norm,
    ("", "InstanceNormalization"): instance_norm,
    ("", "GroupNormalization"): group_norm,
    ("", "Gather"): gather,
    ("", "PRelu"): prelu,
    ("", "LSTM"): recurrent,
    ("", "GRU"): recurrent,
    ("", "RNN"): recurrent,
    ("", "MaxPool"): pool,
    ("", "AveragePool"): pool,
    ("", "LpPool"): pool,
    ("", "GlobalAveragePool"): global_pool,
    ("", "GlobalMaxPool"): global_pool,
    ("", "GlobalLpPool"): global_pool,
    ("", "Resize"): resize,
    ("", "Upsample"): resize,
    ("", "Reshape"): reshape,
    ("", "Pad"): pad,
    ("", "Attention"): attention,
    ("", "Flatten"): flatten,
    ("", "Concat"): concat,
    ("", "Transpose"): transpose,
    ("", "Dropout"): _simple("dropout"),
    ("", "Identity"): _simple("identity"),
    ("", "Cast"): _simple("cast"),
    **{("", op): softmax for op in SOFTMAX},
    **{("", op): _simple("activation") for op in ACTIVATIONS},
    **{("", op): _simple("elementwise") for op in ELEMENTWISE},
}

OP_TRANSLATORS: Registry[tuple[str, str], Translator] = Registry("ONNX op translator", TRANSLATORS)
"""(domain, op_type) -> translator ("" is the default ai.onnx domain): the one table the graph walk reads."""
