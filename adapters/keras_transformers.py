"""Keras's transformer building blocks -> canonical attrs: EinsumDense, MultiHeadAttention, ReversibleEmbedding.

Translation only: each attrs function reads the layer's config (`LayerConfig`: the same keys a `.keras`
file's config.json stores) and the input widths Keras built it with; keras_hub's grouped-query blocks,
which keep their head counts in attributes, are read from the live layer.  The layer math is in
`auditor.rules.einsum_dense`, `auditor.rules.attention` and `auditor.rules.embedding`.
"""

from __future__ import annotations

import math
from typing import Any

from adapters.keras_attrs import embedding_attrs
from adapters.keras_layers import AttrsFn, LayerConfig, input_shape, known, to_shape


def _trailing(value: Any) -> tuple[Any, ...]:
    """Keras's int-or-sequence output_shape as a tuple (None kept where the dim comes from the input)."""
    if value is None:
        return ()
    return (int(value),) if isinstance(value, int) else tuple(None if d is None else int(d) for d in value)


def einsum_dense_attrs(c: LayerConfig) -> dict[str, Any]:
    return {
        "equation": str(c["equation"]),
        "output_shape": _trailing(c["output_shape"]),
        "bias_axes": str(c.get("bias_axes") or ""),
    }


def reversible_embedding_attrs(c: LayerConfig) -> dict[str, Any]:
    """An embedding whose reverse (logits) call reuses the table, or owns a second one when untied."""
    return embedding_attrs(c) | {"reverse_projection": not bool(c.get("tie_weights", True))}


def _axes(axes: Any, rank: int) -> tuple[int, ...]:
    """Keras's attention_axes (None: every axis between batch and features) as non-negative axes."""
    if axes is None:
        return tuple(range(1, rank - 1))
    items = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(sorted(int(a) % rank for a in items))


def _attention_inputs(c: LayerConfig) -> tuple[Any, Any, Any]:
    """(query, value, key) shapes: from the build config, else (a legacy .h5 stores none) from the first
    call's tensors in Keras's positional order, value defaulting to query and key to value."""
    shapes = c.build_config.get("shapes_dict")
    if shapes:
        value = shapes.get("value_shape") or ()
        return to_shape(shapes.get("query_shape") or ()), to_shape(value), to_shape(shapes.get("key_shape") or value)
    calls = list(c.input_shapes)
    query = calls[0] if calls else ()
    value = calls[1] if len(calls) > 1 else query
    return query, value, calls[2] if len(calls) > 2 else value


def attention_attrs(c: LayerConfig) -> dict[str, Any]:
    """Keras MultiHeadAttention (and keras_hub's CachedMultiHeadAttention): widths from its build shapes."""
    query, value, key = _attention_inputs(c)
    config = c.config
    head = int(config["key_dim"])
    query_dim = known(query[-1]) if query else None
    output_dims = _trailing(config.get("output_shape")) or ((query_dim,) if query_dim is not None else ())
    return {
        "query_dim": query_dim,
        "key_dim": known(key[-1]) if key else None,
        "value_dim": known(value[-1]) if value else None,
        "num_heads": int(config["num_heads"]),
        "head_dim": head,
        "value_head_dim": int(config.get("value_dim") or head),
        "output_dim": math.prod(output_dims) if output_dims else None,
        "output_dims": output_dims or None,
        "attention_axes": _axes(config.get("attention_axes"), len(query)) if query else None,
        "use_bias": bool(config.get("use_bias", True)),
        "out_bias": bool(config.get("use_bias", True)),
        "gate": bool(config.get("use_gate", False)),
        "add_bias_kv": False,
        "batch_first": True,
    }


def grouped_attention_attrs(heads: str, kv_heads: str, head_dim: str | None) -> AttrsFn:
    """Self-attention blocks with separate query and key/value head counts (keras_hub's Llama, Mistral,
    Gemma), read from the named attributes; head_dim defaults to the width over the query heads."""

    def attrs(layer: Any) -> dict[str, Any]:
        width = known(input_shape(layer)[-1]) if input_shape(layer) else None
        query_heads, groups = int(getattr(layer, heads)), int(getattr(layer, kv_heads))
        size = getattr(layer, head_dim) if head_dim else None
        if size is None and width is not None:
            size = width // query_heads
        return {
            "query_dim": width,
            "key_dim": width,
            "value_dim": width,
            "num_heads": query_heads,
            "kv_heads": groups,
            "head_dim": None if size is None else int(size),
            "value_head_dim": None if size is None else int(size),
            "output_dim": width,
            "use_bias": False,
            "out_bias": False,
            "add_bias_kv": False,
            "batch_first": True,
            "self_attention": True,
        }

    return attrs
