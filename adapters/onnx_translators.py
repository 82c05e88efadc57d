"""The registry (domain, op type) -> translator for every ONNX operator nn-auditor reads.

`OP_TRANSLATORS` is the public extension point for custom domains (`adapters.onnx.register_op`); the
graph walk reads nothing else.

Standard operators without an entry are weight-free `tensor_op`s when ONNX's schema knows them (not the
ai.onnx.ml ones, which keep their coefficients in attributes); an
operator of an unknown domain has no translator and becomes an `unverified` row of its own kind.
"""

from __future__ import annotations

from typing import Any

from adapters import onnx_contrib, onnx_elementwise, onnx_ops, onnx_ops_shape, onnx_quant
from adapters.onnx_ops_shape import ACTIVATIONS, ELEMENTWISE, SOFTMAX, simple
from adapters.onnx_translation import Translator
from auditor.registry import Registry

MS = "com.microsoft"
QLINEAR_TENSOR_OPS = ("QLinearAdd", "QLinearMul", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearAveragePool",
                      "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "QLinearReduceMean", "QLinearWhere")
"""onnxruntime's weight-free quantized ops: every constant input is a scale or zero point."""

BUILT_IN: dict[tuple[str, str], Translator] = {
    ("", "Conv"): onnx_ops.conv,
    ("", "ConvTranspose"): onnx_ops.conv,
    ("", "Gemm"): onnx_ops.gemm,
    ("", "MatMul"): onnx_ops.matmul,
    ("", "BatchNormalization"): onnx_ops.batch_norm,
    ("", "LayerNormalization"): onnx_ops.layer_norm,
    ("", "RMSNormalization"): onnx_ops.layer_norm,
    ("", "InstanceNormalization"): onnx_ops.instance_norm,
    ("", "GroupNormalization"): onnx_ops.group_norm,
    ("", "Gather"): onnx_ops.gather,
    ("", "PRelu"): onnx_ops.prelu,
    ("", "LSTM"): onnx_ops.recurrent,
    ("", "GRU"): onnx_ops.recurrent,
    ("", "RNN"): onnx_ops.recurrent,
    ("", "Einsum"): onnx_ops.einsum,
    ("", "MaxPool"): onnx_ops_shape.pool,
    ("", "AveragePool"): onnx_ops_shape.pool,
    ("", "LpPool"): onnx_ops_shape.pool,
    ("", "GlobalAveragePool"): onnx_ops_shape.global_pool,
    ("", "GlobalMaxPool"): onnx_ops_shape.global_pool,
    ("", "GlobalLpPool"): onnx_ops_shape.global_pool,
    ("", "Resize"): onnx_ops_shape.resize,
    ("", "Upsample"): onnx_ops_shape.resize,
    ("", "Reshape"): onnx_ops_shape.reshape,
    ("", "Pad"): onnx_ops_shape.pad,
    ("", "Attention"): onnx_ops_shape.attention,
    ("", "Flatten"): onnx_ops_shape.flatten,
    ("", "Concat"): onnx_ops_shape.concat,
    ("", "Transpose"): onnx_ops_shape.transpose,
    ("", "Dropout"): simple("dropout"),
    ("", "Identity"): simple("identity"),
    ("", "Cast"): simple("cast"),
    **{("", op): onnx_ops_shape.softmax for op in SOFTMAX},
    **{("", op): simple("activation") for op in ACTIVATIONS},
    **{("", op): onnx_elementwise.elementwise for op in ELEMENTWISE},
    ("", "QuantizeLinear"): onnx_quant.quantize_linear,
    ("", "DequantizeLinear"): onnx_quant.quantize_linear,
    ("", "DynamicQuantizeLinear"): onnx_quant.quantize_linear,
    ("", "QLinearConv"): onnx_quant.qlinear_conv,
    ("", "QLinearMatMul"): onnx_quant.qlinear_matmul,
    ("", "ConvInteger"): onnx_quant.conv_integer,
    ("", "MatMulInteger"): onnx_quant.matmul_integer,
    **{(MS, op): translator for op, translator in onnx_contrib.TRANSLATORS.items()},
    (MS, "LayerNormalization"): onnx_ops.layer_norm,
    (MS, "SimplifiedLayerNormalization"): onnx_ops.layer_norm,
    (MS, "Gelu"): simple("activation"),
    (MS, "QuickGelu"): simple("activation"),
    (MS, "QGemm"): onnx_quant.qgemm,
    (MS, "QAttention"): onnx_quant.qattention,
    (MS, "DynamicQuantizeLSTM"): onnx_quant.dynamic_quantize_lstm,
    (MS, "MatMulNBits"): onnx_quant.matmul_nbits,
    (MS, "DynamicQuantizeMatMul"): onnx_quant.dynamic_quantize_matmul,
    **{(MS, op): onnx_quant.qlinear_tensor_op for op in QLINEAR_TENSOR_OPS},
}


OP_TRANSLATORS: Registry[tuple[str, str], Translator] = Registry("ONNX op translator", BUILT_IN)
"""(domain, op_type) -> translator ("" is the default ai.onnx domain): the one table the graph walk reads."""


def op_domain(domain: str) -> str:
    """The registry's spelling of an op domain: the default domain is "" however a file names it."""
    return "" if domain in ("", "ai.onnx") else domain


def translator_for(node: Any, schemas: Any) -> Translator | None:
    """The translator for `node`: its registered one, else `tensor_op` for a known weight-free standard op."""
    domain = op_domain(node.domain)
    found = OP_TRANSLATORS.get((domain, node.op_type))
    if found is not None:
        return found
    if domain in ("", "ai.onnx.preview", "ai.onnx.preview.training", MS) and schemas.known(domain, node.op_type):
        return onnx_ops_shape.tensor_op
    return None
