"""Quantized ONNX operators -> the float layer kinds they compute, their scales and zero points as metadata.

A quantized weight is a parameter with its logical element count (an int8 3x3x8x16 kernel is 1,152
parameters, whatever its storage), so the same rule verifies it as the float original; its scales and
zero points are quantization metadata (their own total).  Covered: QDQ (QuantizeLinear /
DequantizeLinear around activations; weights behind a DequantizeLinear are folded as constants),
QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, DynamicQuantizeLinear, and onnxruntime's
QGemm, QAttention, DynamicQuantizeLSTM, MatMulNBits (packed 4-bit blocks) and the QLinear* tensor ops.
"""

from __future__ import annotations

from typing import Any

from adapters.onnx_ops import conv_of, dense_attrs, matmul_of, recurrent_of
from adapters.onnx_translation import (
    Known,
    Translation,
    dims,
    dynamic,
    is_constant,
    is_weight,
    optional_input,
    real_inputs,
)
from auditor.rules.base import RuleError


def _metadata(node: Any, known: Known, *positions: int) -> list[str]:
    """The constant inputs at `positions` (scales, zero points)."""
    return [node.input[i] for i in positions if optional_input(node, i) and is_constant(known, node.input[i])]


def quantize_linear(node: Any, graph: Any, known: Known) -> Translation:
    """QuantizeLinear / DequantizeLinear of an activation: no parameters, its scale and zero point metadata."""
    kind = "quantize" if node.op_type in ("QuantizeLinear", "DynamicQuantizeLinear") else "dequantize"
    return Translation(kind, {"op": node.op_type}, [node.input[0]], quantization=_metadata(node, known, 1, 2))


def qlinear_conv(node: Any, graph: Any, known: Known) -> Translation:
    """QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B): a conv with an int32 bias."""
    translation = conv_of(node, graph, known, node.input[0], node.input[3], optional_input(node, 8))
    translation.quantization = _metadata(node, known, 1, 2, 4, 5, 6, 7)
    return translation


def conv_integer(node: Any, graph: Any, known: Known) -> Translation:
    """ConvInteger(x, w, x_zp, w_zp): a conv whose rescale (and bias) follow it (see `onnx_fusion`)."""
    translation = conv_of(node, graph, known, node.input[0], node.input[1], None)
    translation.quantization = _metadata(node, known, 2, 3)
    return translation


def qlinear_matmul(node: Any, graph: Any, known: Known) -> Translation:
    """QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): a dense layer when b is a weight."""
    translation = matmul_of(graph, known, node.input[0], node.input[3])
    translation.quantization = _metadata(node, known, 1, 2, 4, 5, 6, 7)
    return translation


def matmul_integer(node: Any, graph: Any, known: Known) -> Translation:
    """MatMulInteger(a, b, a_zp, b_zp): a dense layer; the rescale and bias follow it."""
    translation = matmul_of(graph, known, node.input[0], node.input[1])
    translation.quantization = _metadata(node, known, 2, 3)
    return translation


def dynamic_quantize_matmul(node: Any, graph: Any, known: Known) -> Translation:
    """DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias): a dense layer on an int8 B."""
    translation = matmul_of(graph, known, node.input[0], node.input[1])
    bias = optional_input(node, 4)
    if translation.kind == "dense" and is_weight(known, bias) and bias:
        translation.weights.append(("bias", bias))
        translation.attrs["use_bias"] = True
    translation.quantization = _metadata(node, known, 2, 3)
    return translation


def qgemm(node: Any, graph: Any, known: Known) -> Translation:
    """QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): Gemm with quantized operands."""
    a, b, c = node.input[0], node.input[3], optional_input(node, 6)
    attrs = graph.attrs(node)
    bdims = dims(graph, b)
    if not is_weight(known, b) or int(attrs.get("transA", 0)) or len(bdims) != 2:
        return dynamic(node)
    fin, fout = (bdims[1], bdims[0]) if int(attrs.get("transB", 0)) else bdims
    use_bias = is_weight(known, c)
    weights = [("weight", b)] + ([("bias", c)] if use_bias and c else [])
    return Translation("dense", dense_attrs(graph, a, fin, fout, use_bias), [a], weights,
                       quantization=_metadata(node, known, 1, 2, 4, 5, 7, 8))


def matmul_nbits(node: Any, graph: Any, known: Known) -> Translation:
    """MatMulNBits(A, B, scales, zero_points, g_idx, bias): B holds K x N weights of `bits` bits packed in
    uint8 blocks of `block_size`; the layer is a K -> N dense layer counting K*N logical weights."""
    a, b, bias = node.input[0], node.input[1], optional_input(node, 5)
    attrs = graph.attrs(node)
    if not is_weight(known, b) or attrs.get("K") is None or attrs.get("N") is None:
        return dynamic(node, "packed weight without K and N")
    from auditor.rules import quantization  # loaded with the first packed weight, not with every read

    k, n, bits = int(attrs["K"]), int(attrs["N"]), int(attrs.get("bits", 4))
    try:
        unpacked = quantization.matmul_nbits_weight(dims(graph, b), k, n, bits, int(attrs.get("block_size", 0)))
    except RuleError as err:
        return dynamic(node, str(err))
    use_bias = is_weight(known, bias)
    weights = [("weight", b)] + ([("bias", bias)] if use_bias and bias else [])
    return Translation("dense", dense_attrs(graph, a, k, n, use_bias), [a], weights,
                       quantization=_metadata(node, known, 2, 3, 4), packed={"weight": unpacked})


def qattention(node: Any, graph: Any, known: Known) -> Translation:
    """QAttention(input, weight, bias, input_scale, weight_scale, mask, input_zp, weight_zp, past)."""
    from adapters.onnx_contrib import attention_of

    translation = attention_of(node, graph, known, node.input[0], node.input[1], optional_input(node, 2))
    translation.quantization = _metadata(node, known, 3, 4, 6, 7)
    return translation


def dynamic_quantize_lstm(node: Any, graph: Any, known: Known) -> Translation:
    """DynamicQuantizeLSTM: an LSTM whose W (D, input, 4H) and R (D, H, 4H) are stored transposed in int8."""
    translation = recurrent_of(node, graph, known, "lstm", input_axis=1, gates_axis=2)
    translation.quantization = _metadata(node, known, 8, 9, 10, 11)
    return translation


def qlinear_tensor_op(node: Any, graph: Any, known: Known) -> Translation:
    """QLinearAdd, QLinearConcat, QLinearGlobalAveragePool ...: weight-free; every constant input is a
    scale or zero point."""
    constant = [i for i in real_inputs(node) if is_constant(known, i)]
    data = [i for i in real_inputs(node) if i not in constant]
    return Translation("tensor_op", {"op": node.op_type}, data, quantization=constant)
