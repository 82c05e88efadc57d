"""Standard ONNX operators that carry weights -> canonical kinds and attrs (every default explicit)."""

from __future__ import annotations

from typing import Any

from adapters.onnx_graph import FLOAT_TYPES, QUANTIZED_TYPES
from adapters.onnx_translation import (
    Known,
    Translation,
    channels,
    dims,
    dynamic,
    is_constant,
    is_weight,
    optional_input,
    real_inputs,
    window,
)
from auditor.errors import InputError


def conv(node: Any, graph: Any, known: Known) -> Translation:
    """Conv / ConvTranspose (and onnxruntime's FusedConv): weight (and bias) when they are weights."""
    return conv_of(node, graph, known, node.input[0], node.input[1], optional_input(node, 2))


def conv_of(node: Any, graph: Any, known: Known, x: str, w: str, b: str | None) -> Translation:
    """A convolution of data `x` by weight `w` (and bias `b`), wherever the op keeps them (QLinearConv: 0, 3, 8)."""
    wshape = dims(graph, w)
    if not is_weight(known, w) or len(wshape) < 3:
        return dynamic(node)
    attrs_in = graph.attrs(node)
    rank, group = len(wshape) - 2, int(attrs_in.get("group", 1))
    kernel = tuple(attrs_in.get("kernel_shape") or wshape[2:])
    attrs = window(attrs_in, rank, kernel)
    transposed = node.op_type == "ConvTranspose"
    if transposed:
        attrs["output_padding"] = tuple(attrs_in.get("output_padding") or [0] * rank)
        if attrs_in.get("output_shape"):
            attrs["output_size"] = tuple(int(o) for o in attrs_in["output_shape"])
        cin, cout, expected = channels(graph.shape(x), wshape[0]), wshape[1] * group, wshape[0]
    else:
        cin, cout, expected = channels(graph.shape(x), wshape[1] * group), wshape[0], wshape[1] * group
    if cin != expected:
        raise InputError(f"{node.op_type} node {node.name!r}: its input has {cin} channels but its weight "
                         f"{tuple(wshape)} (group={group}) takes {expected}; not a valid ONNX graph")
    use_bias = is_weight(known, b)
    attrs.update(in_channels=cin, out_channels=cout, groups=group, use_bias=use_bias)
    weights = [("weight", w)] + ([("bias", b)] if use_bias and b else [])
    data = [x] + ([b] if b and not use_bias else [])
    if node.op_type in ("Conv", "ConvTranspose", "FusedConv"):
        data += [n for n in node.input[3:] if n]  # FusedConv's Z: a residual added after the conv
    return Translation("conv_transpose" if transposed else "conv", attrs, data, weights)


def gemm(node: Any, graph: Any, known: Known) -> Translation:
    """Gemm: A (transposed if transA) times a 2-D weight B (transposed if transB), plus a bias C."""
    a, b, c = node.input[0], node.input[1], optional_input(node, 2)
    attrs = graph.attrs(node)
    trans_a, trans_b = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    a_shape, b_shape = _transposed(graph.shape(a), trans_a), _transposed(graph.shape(b), trans_b)
    bdims = dims(graph, b)
    if not is_weight(known, b) or is_constant(known, a) or len(bdims) != 2:
        shapes = [a_shape, b_shape] if a_shape is not None and b_shape is not None else []
        return Translation("matmul", {}, [a, b], shapes=shapes)
    fin, fout = (bdims[1], bdims[0]) if trans_b else (bdims[0], bdims[1])
    use_bias = is_weight(known, c) and _is_bias(dims(graph, c), fout)
    weights = [("weight", b)] + ([("bias", c)] if use_bias and c else [])
    data = [a] + ([c] if c and not use_bias else [])
    return Translation("dense", dense_attrs(graph, a, fin, fout, use_bias), data, weights,
                       shapes=[a_shape] if a_shape is not None else [])


def _transposed(shape: Any, flag: int) -> Any:
    """A 2-D operand's shape as Gemm uses it (reversed when its trans flag is set)."""
    return tuple(reversed(shape)) if flag and shape is not None and len(shape) == 2 else shape


def _is_bias(shape: tuple[int, ...], width: int) -> bool:
    """A vector of `width` (possibly with leading 1s): a bias, not a broadcast matrix."""
    return bool(shape) and shape[-1] == width and all(d == 1 for d in shape[:-1])


def dense_attrs(graph: Any, data: str, fin: int, fout: int, use_bias: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {"in_features": fin, "out_features": fout, "use_bias": use_bias}
    source = graph.flattened_from(data)
    if source is not None:
        attrs["flattened_from"] = source
    return attrs


def matmul(node: Any, graph: Any, known: Known) -> Translation:
    """MatMul by a 2-D weight is a dense layer (a bias Add after it is folded in by the walk)."""
    return matmul_of(graph, known, node.input[0], node.input[1])


def matmul_of(graph: Any, known: Known, a: str, b: str) -> Translation:
    """`a` @ `b`: a dense layer when `b` is a 2-D weight and `a` is not a constant, else a plain product."""
    bshape = dims(graph, b)
    weight = is_constant(known, b) and not is_constant(known, a)
    weight = weight or (known.get(b) is not None and a not in known)
    if weight and len(bshape) == 2:
        return Translation("dense", dense_attrs(graph, a, bshape[0], bshape[1], False), [a], [("weight", b)])
    return Translation("matmul", {}, [a, b])


def batch_norm(node: Any, graph: Any, known: Known) -> Translation:
    x, scale, bias, mean, var = node.input[:5]
    if not all(is_weight(known, n) for n in (scale, bias, mean, var)):
        return dynamic(node)
    features = channels(graph.shape(x), (dims(graph, scale) or (0,))[0])
    attrs = {"num_features": features, "scale": True, "center": True, "stats": "params",
             "tracks_batches": False, "layout": "channels_first"}
    weights = [("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", var)]
    return Translation("batch_norm", attrs, [x], weights, statistics={"running_mean", "running_var"})


def normalized_shape(graph: Any, x: str, axis: int, fallback: str | None) -> tuple[int, ...]:
    """The trailing dims from `axis` on (the input's, else the scale's own)."""
    shape = graph.shape(x)
    if shape:
        tail = shape[axis:]
        if tail and all(isinstance(d, int) for d in tail):
            return tuple(int(d) for d in tail)
    return dims(graph, fallback)


def layer_norm(node: Any, graph: Any, known: Known) -> Translation:
    x, scale, bias = node.input[0], node.input[1], optional_input(node, 2)
    if not is_weight(known, scale):
        return dynamic(node)
    axis = int(graph.attrs(node).get("axis", -1))
    center = is_weight(known, bias)
    attrs = {"normalized_shape": normalized_shape(graph, x, axis, scale), "scale": True, "center": center}
    weights = [("weight", scale)] + ([("bias", bias)] if center and bias else [])
    kind = "rms_norm" if node.op_type in ("RMSNormalization", "SimplifiedLayerNormalization") else "layer_norm"
    return Translation(kind, attrs, [x], weights)


def instance_norm(node: Any, graph: Any, known: Known) -> Translation:
    x, scale, bias = node.input[:3]
    if not (is_weight(known, scale) and is_weight(known, bias)):
        return dynamic(node)
    features = channels(graph.shape(x), (dims(graph, scale) or (0,))[0])
    attrs = {"num_features": features, "scale": True, "center": True, "stats": "none", "tracks_batches": False}
    return Translation("instance_norm", attrs, [x], [("weight", scale), ("bias", bias)])


def group_norm(node: Any, graph: Any, known: Known) -> Translation:
    x, scale, bias = node.input[:3]
    if not (is_weight(known, scale) and is_weight(known, bias)):
        return dynamic(node)
    num_channels = channels(graph.shape(x), (dims(graph, scale) or (0,))[0])
    attrs = {"num_groups": int(graph.attrs(node)["num_groups"]), "num_channels": num_channels,
             "scale": True, "center": True}
    return Translation("group_norm", attrs, [x], [("weight", scale), ("bias", bias)])


def gather(node: Any, graph: Any, known: Known) -> Translation:
    """Gather rows of a constant 2-D float (or quantized) table: an embedding (by run-time indices, or at
    constant ones: the traced positions or token type 0, whose lookup `onnx_constants` leaves unfolded)."""
    data, indices = node.input[0], node.input[1]
    shape = dims(graph, data)
    axis = int(graph.attrs(node).get("axis", 0))
    weight_type = graph.dtype(data) in FLOAT_TYPES or graph.dtype(data) in QUANTIZED_TYPES  # int8 tables too
    if is_weight(known, data) and weight_type and len(shape) == 2 and axis == 0:
        return Translation("embedding", {"num_embeddings": shape[0], "embedding_dim": shape[1]}, [indices],
                           [("weight", data)])
    return Translation("tensor_op", {"op": "Gather"}, real_inputs(node))


def prelu(node: Any, graph: Any, known: Known) -> Translation:
    """PRelu's slope broadcasts to the input (numpy style, from the right): the input axes along which the
    slope has size 1 share one alpha, as Keras's shared_axes say; the rule recounts from the input's dims."""
    x, slope = node.input[0], node.input[1]
    if not is_weight(known, slope):
        return Translation("elementwise", {"op": "PRelu"}, [x, slope])
    shape, slope_shape = graph.shape(x), graph.shape(slope)
    attrs: dict[str, Any] = {}
    if shape is not None and slope_shape is not None and len(slope_shape) <= len(shape):
        if graph.schemas.version(node.domain) < 7 and len(slope_shape) == 1 and len(shape) > 1:
            aligned = (1, *slope_shape, *(1,) * (len(shape) - 2))  # opset < 7: one slope per channel (axis 1)
        else:
            aligned = (1,) * (len(shape) - len(slope_shape)) + tuple(slope_shape)
        first = 0 if aligned[0] != 1 else 1  # a slope along axis 0 too (ONNX has no batch axis)
        attrs["shared_axes"] = tuple(axis for axis in range(first, len(shape)) if aligned[axis] == 1)
        if first == 0:
            attrs["first_axis"] = 0
    return Translation("prelu", attrs, [x], [("weight", slope)])


def recurrent(node: Any, graph: Any, known: Known) -> Translation:
    """LSTM / GRU / RNN: W (D, gates*H, input), R, B (two bias vectors), LSTM peepholes P."""
    return recurrent_of(node, graph, known, node.op_type.lower(), input_axis=2, gates_axis=1)


def recurrent_of(node: Any, graph: Any, known: Known, cell: str, input_axis: int, gates_axis: int) -> Translation:
    """An ONNX-layout recurrent op (X, W, R, B, sequence_lens, initial_h, initial_c, P); the weight's axes
    say where the input width and the gates are (DynamicQuantizeLSTM stores W transposed).
    Initial states are constant inputs, not parameters."""
    from auditor.rules.recurrent import GATES  # the rnn rule's module loads with the first recurrent op

    x, w, r, b = node.input[0], node.input[1], node.input[2], optional_input(node, 3)
    wshape = dims(graph, w)
    if not (is_weight(known, w) and is_weight(known, r)) or len(wshape) != 3:
        return dynamic(node)
    attrs_in = graph.attrs(node)
    peephole = optional_input(node, 7) if cell == "lstm" else None
    hidden = attrs_in.get("hidden_size")
    attrs = {
        "cell": cell,
        "input_size": wshape[input_axis],
        "hidden_size": int(hidden) if hidden is not None else wshape[gates_axis] // GATES[cell],
        "num_layers": 1,
        "bidirectional": attrs_in.get("direction", "forward") == "bidirectional",
        "bias_vectors": 2 if is_weight(known, b) else 0,
        "proj_size": 0,
        "batch_first": int(attrs_in.get("layout", 0)) == 1,
        "peephole": is_weight(known, peephole),
    }
    weights = [("weight_ih", w), ("weight_hh", r)] + ([("bias", b)] if attrs["bias_vectors"] and b else [])
    weights += [("peephole", peephole)] if attrs["peephole"] and peephole else []
    states = [n for n in node.input[4:7] if n]
    return Translation("rnn", attrs, [x], weights, constants=states)


def einsum(node: Any, graph: Any, known: Known) -> Translation:
    """Einsum with constant operands (a dense layer written as an equation): the constants are weights."""
    equation = str(graph.attrs(node)["equation"]).replace(" ", "")
    operands = real_inputs(node)
    weighted = tuple(i for i, name in enumerate(operands) if is_constant(known, name))
    if len(weighted) == len(operands):
        weighted = ()
    weights = [(f"operand{i}", operands[i]) for i in weighted]
    attrs = {"equation": equation, "weight_operands": weighted}
    return Translation("einsum", attrs, operands, weights)
