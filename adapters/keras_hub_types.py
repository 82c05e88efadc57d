"""keras_hub layer classes -> canonical kinds and attrs (translation only; the math is in `auditor.rules`).

Registered into the Keras type map the first time a model is read while keras_hub is imported (a
model built from keras_hub classes has imported it), so auditing plain Keras never imports keras_hub.
keras_hub's own blocks (TransformerEncoder/Decoder, TokenAndPositionEmbedding, the Llama/Gemma/
Mistral decoder blocks, ViT and CLIP encoders) are not listed: the adapter walks them into their
sublayers, so every weight is counted by the rule of the sublayer that owns it.  A block listed with
`walk=True` is walked the same way; its kind covers only the weights it holds itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from adapters.keras_layers import AttrsFn, from_config, input_shape, known, static_or_none
from adapters.keras_transformers import grouped_attention_attrs, reversible_embedding_attrs

_HUB = "keras_hub.src"


def position_embedding_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    return {"num_embeddings": int(layer.get_config()["sequence_length"]),
            "embedding_dim": known(shape[-1]) if shape else None}


def rotary_attrs(layer: Any) -> dict[str, Any]:
    config = layer.get_config()
    return {"sequence_axis": int(config.get("sequence_axis", 1)), "feature_axis": int(config.get("feature_axis", -1))}


def last_axis_rms_attrs(layer: Any) -> dict[str, Any]:
    """keras_hub's RMS norms: one scale per feature of the last axis (Gemma's (1 + scale) counts the same)."""
    shape = input_shape(layer)
    return {"normalized_shape": static_or_none(shape[-1:]) if shape else None, "scale": True, "center": False}


def head_rms_attrs(layer: Any) -> dict[str, Any]:
    """Qwen3's norm: over head_dim when it is set, else over the last axis."""
    head_dim = layer.get_config().get("head_dim")
    return last_axis_rms_attrs(layer) if head_dim is None else {"normalized_shape": (int(head_dim),), "scale": True,
                                                                  "center": False}


def vit_class_token_attrs(layer: Any) -> dict[str, Any]:
    config = layer.get_config()
    return {"tokens": int(bool(config.get("use_class_token", True))), "width": int(config["hidden_dim"])}


def clip_class_token_attrs(layer: Any) -> dict[str, Any]:
    """CLIP's vision embedding holds a class embedding and its position ids (a non-trainable int weight)."""
    return {"tokens": 1, "width": int(layer.hidden_dim), "position_ids": int(layer.num_positions)}


def clip_head_attrs(layer: Any) -> dict[str, Any]:
    return {"learned_scale": True}


_RMS_NORMS = (
    "layers.modeling.rms_normalization.RMSNormalization",
    "models.llama.llama_layernorm.LlamaLayerNorm",
    "models.mistral.mistral_layer_norm.MistralLayerNormalization",
    "models.mixtral.mixtral_layer_norm.MixtralLayerNormalization",
    "models.gemma.rms_normalization.RMSNormalization",
    "models.phi3.phi3_layernorm.Phi3LayerNorm",
    "models.qwen.qwen_layernorm.QwenLayerNorm",
    "models.gpt_oss.gpt_oss_layer_norm.GptOssLayerNormalization",
    "models.t5.t5_layer_norm.T5LayerNorm",
)

_TABLE: tuple[tuple[str, str, AttrsFn, bool], ...] = (
    ("layers.modeling.position_embedding.PositionEmbedding", "position_embedding", position_embedding_attrs, False),
    ("layers.modeling.rotary_embedding.RotaryEmbedding", "rotary_apply", rotary_attrs, False),
    ("layers.modeling.reversible_embedding.ReversibleEmbedding", "embedding", from_config(reversible_embedding_attrs),
     False),
    *((name, "rms_norm", last_axis_rms_attrs, False) for name in _RMS_NORMS),
    ("models.qwen3.qwen3_layernorm.Qwen3LayerNorm", "rms_norm", head_rms_attrs, False),
    ("models.llama.llama_attention.LlamaAttention", "attention",
     grouped_attention_attrs("num_query_heads", "num_key_value_heads", None), False),
    ("models.mistral.mistral_attention.CachedMistralAttention", "attention",
     grouped_attention_attrs("_num_query_heads", "_num_key_value_heads", "_head_dim"), False),
    ("models.gemma.gemma_attention.CachedGemmaAttention", "attention",
     grouped_attention_attrs("num_query_heads", "num_key_value_heads", "head_dim"), False),
    ("models.vit.vit_layers.ViTPatchingAndEmbedding", "class_token", vit_class_token_attrs, True),
    ("models.clip.clip_layers.CLIPVisionEmbedding", "class_token", clip_class_token_attrs, True),
    ("models.clip.clip_layers.CLIPHead", "contrastive_head", clip_head_attrs, False),
)
"""(class below keras_hub.src, kind, attrs, walk).  CachedMultiHeadAttention subclasses Keras's
MultiHeadAttention and is translated through it."""


def hub_types() -> list[tuple[type, str, AttrsFn, bool]]:
    """The table's classes this keras_hub version has (a class it moved or dropped is left out)."""
    found = []
    for name, kind, attrs, walk in _TABLE:
        module, _, cls_name = f"{_HUB}.{name}".rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError):
            continue
        found.append((cls, kind, attrs, walk))
    return found
