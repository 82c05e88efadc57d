"""onnxruntime's fused operators (`com.microsoft`, as `onnxruntime.transformers.optimizer` writes them).

Each fused op is translated into the layer kinds it stands for: Attention is the q/k/v projections and
the attention products (the output projection stays a separate MatMul); SkipLayerNormalization is a
layer norm that also adds the preceding dense layer's bias; EmbedLayerNormalization is three embedding
tables and a layer norm; BiasGelu/FastGelu carry a bias; FusedConv/FusedMatMul/FusedGemm are their
plain ops.  Other contrib ops onnxruntime's schema knows are weight-free `tensor_op`s.
"""

from __future__ import annotations

from typing import Any

from adapters.onnx_ops import conv_of, dense_attrs, gemm, matmul_of, normalized_shape
from adapters.onnx_translation import (
    Known,
    Translation,
    dims,
    dynamic,
    is_weight,
    optional_input,
    real_inputs,
)


def attention_of(node: Any, graph: Any, known: Known, x: str, weight: str, bias: str | None) -> Translation:
    """q/k/v projections packed in one (D, q+k+v) weight, then softmax(QK^T)V; no output projection."""
    wshape = dims(graph, weight)
    attrs_in = graph.attrs(node)
    if not is_weight(known, weight) or len(wshape) != 2 or attrs_in.get("num_heads") is None:
        return dynamic(node)
    heads = int(attrs_in["num_heads"])
    sizes = [int(s) for s in attrs_in.get("qkv_hidden_sizes") or []] or [wshape[1] // 3] * 3
    use_bias = is_weight(known, bias)
    attrs = {
        "query_dim": wshape[0], "key_dim": wshape[0], "value_dim": wshape[0], "num_heads": heads,
        "head_dim": sizes[0] // heads, "value_head_dim": sizes[2] // heads, "output_dim": sizes[2],
        "use_bias": use_bias, "out_bias": False, "output_projection": False, "batch_first": True,
    }
    weights = [("weight", weight)] + ([("bias", bias)] if use_bias and bias else [])
    return Translation("attention", attrs, [x], weights)


def attention(node: Any, graph: Any, known: Known) -> Translation:
    return attention_of(node, graph, known, node.input[0], node.input[1], optional_input(node, 2))


def multi_head_attention(node: Any, graph: Any, known: Known) -> Translation:
    """MultiHeadAttention / GroupQueryAttention on projected q, k, v (heads packed in the last axis);
    MultiHeadAttention's optional bias is the projections' bias, moved here by the optimizer."""
    attrs_in = graph.attrs(node)
    heads = attrs_in.get("num_heads")
    kv_heads = attrs_in.get("kv_num_heads") or heads
    data = [i for i in node.input[:3] if i]
    bias = optional_input(node, 3) if node.op_type == "MultiHeadAttention" else None
    use_bias = is_weight(known, bias)
    attrs = {"num_heads": heads, "kv_num_heads": kv_heads, "use_bias": use_bias}
    caches = [n for n in node.input[7:9] if n] if node.op_type == "GroupQueryAttention" else []
    weights = [("bias", bias)] if use_bias and bias else []
    return Translation("sdpa", attrs, data, weights, constants=caches)


def skip_layer_norm(node: Any, graph: Any, known: Known) -> Translation:
    """Skip(Simplified)LayerNormalization(input, skip, gamma[, beta], bias): norm of input + skip (+ bias)."""
    simplified = node.op_type.startswith("SkipSimplified")
    x, gamma = node.input[0], node.input[2]
    beta = None if simplified else optional_input(node, 3)
    bias = optional_input(node, 3 if simplified else 4)
    if not is_weight(known, gamma):
        return dynamic(node)
    center, input_bias = is_weight(known, beta), is_weight(known, bias)
    attrs = {"normalized_shape": normalized_shape(graph, x, -1, gamma), "scale": True, "center": center,
             "input_bias": input_bias}
    weights = [("weight", gamma)] + ([("bias", beta)] if center and beta else [])
    weights += [("input_bias", bias)] if input_bias and bias else []
    data = [x, node.input[1]] + ([bias] if bias and not input_bias else [])
    return Translation("rms_norm" if simplified else "layer_norm", attrs, data, weights)


def embed_layer_norm(node: Any, graph: Any, known: Known) -> Translation:
    """EmbedLayerNormalization: word + position (+ segment) embeddings summed, then a layer norm."""
    ids = node.input[0]
    word, position, segment = node.input[2], node.input[3], optional_input(node, 4)
    gamma, beta = node.input[5], node.input[6]
    if not all(is_weight(known, n) for n in (word, position, gamma, beta)):
        return dynamic(node)
    wshape = dims(graph, word)
    use_segments = is_weight(known, segment)
    attrs = {"num_embeddings": wshape[0], "embedding_dim": wshape[1], "max_positions": dims(graph, position)[0],
             "segments": dims(graph, segment)[0] if use_segments else 0}
    weights = [("word_embeddings", word), ("position_embeddings", position)]
    weights += [("segment_embeddings", segment)] if use_segments and segment else []
    weights += [("gamma", gamma), ("beta", beta)]
    return Translation("embed_layer_norm", attrs, [ids], weights)


def bias_activation(node: Any, graph: Any, known: Known) -> Translation:
    """BiasGelu(A, bias), FastGelu(X[, bias]), BiasAdd(X, bias, skip): an activation that adds a bias first."""
    bias = optional_input(node, 1)
    if not is_weight(known, bias):
        return Translation("activation", {"op": node.op_type}, [node.input[0]])
    extra = [n for n in real_inputs(node)[2:]]
    return Translation("bias", {"op": node.op_type, "shape": dims(graph, bias)}, [node.input[0], *extra],
                       [("weight", bias)] if bias else [])


def fused_matmul(node: Any, graph: Any, known: Known) -> Translation:
    """FusedMatMul(A, B) with transA/transB/alpha: a dense layer when B is a 2-D weight."""
    attrs = graph.attrs(node)
    a, b = node.input[0], node.input[1]
    if int(attrs.get("transA", 0)) == 0 and int(attrs.get("transB", 0)) == 1 and len(dims(graph, b)) == 2 \
            and is_weight(known, b):
        out, fin = dims(graph, b)
        return Translation("dense", dense_attrs(graph, a, fin, out, False), [a], [("weight", b)])
    if int(attrs.get("transA", 0)) == 0 and int(attrs.get("transB", 0)) == 0:
        return matmul_of(graph, known, a, b)
    if is_weight(known, b):
        return dynamic(node, "weight applied to a transposed activation")
    return Translation("matmul", {}, [a, b], shapes=[])  # transposed operands: shapes not as stored


def fused_conv(node: Any, graph: Any, known: Known) -> Translation:
    return conv_of(node, graph, known, node.input[0], node.input[1], optional_input(node, 2))


def rotary_embedding(node: Any, graph: Any, known: Known) -> Translation:
    """RotaryEmbedding(input, position_ids, cos_cache, sin_cache): rotates by cached tables; no weights."""
    return Translation("tensor_op", {"op": node.op_type}, [node.input[0]], constants=real_inputs(node)[2:4])


TRANSLATORS = {
    "Attention": attention,
    "MultiHeadAttention": multi_head_attention,
    "GroupQueryAttention": multi_head_attention,
    "SkipLayerNormalization": skip_layer_norm,
    "SkipSimplifiedLayerNormalization": skip_layer_norm,
    "EmbedLayerNormalization": embed_layer_norm,
    "BiasGelu": bias_activation,
    "FastGelu": bias_activation,
    "BiasAdd": bias_activation,
    "FusedConv": fused_conv,
    "FusedMatMul": fused_matmul,
    "FusedGemm": gemm,
    "RotaryEmbedding": rotary_embedding,
}
"""com.microsoft op -> translator (the layer norms `LayerNormalization`/`SimplifiedLayerNormalization` of
that domain are registered with the standard layer-norm translator)."""
