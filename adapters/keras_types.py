"""The table of Keras layer classes nn-auditor translates: class -> (kind, attrs function), by family.

Built once into the adapter's registry (`adapters.keras.TYPES`); keras_hub's classes join it when
keras_hub is in use (`adapters.keras_hub_types`).
"""

from __future__ import annotations

from keras import layers as kl

from adapters.keras_layers import (
    AttrsFn,
    LayerType,
    TypeMap,
    activation_attrs,
    batch_norm_attrs,
    bidirectional_attrs,
    concat_attrs,
    dense_attrs,
    elementwise_attrs,
    embedding_attrs,
    flatten_attrs,
    group_norm_attrs,
    layer_norm_attrs,
    layer_scale_attrs,
    no_attrs,
    normalization_attrs,
    permute_attrs,
    prelu_attrs,
    reshape_attrs,
    rms_norm_attrs,
    rnn_attrs,
)
from adapters.keras_spatial import (
    conv_attrs,
    conv_transpose_attrs,
    cropping_attrs,
    depthwise_attrs,
    global_pool_attrs,
    pool_attrs,
    resizing_attrs,
    separable_attrs,
    upsampling_attrs,
    zero_padding_attrs,
)
from adapters.keras_transformers import transformer_types
from auditor.registry import Registry


def builtin_types() -> list[tuple[type, str, AttrsFn]]:
    """The Keras 3 layers nn-auditor translates out of the box."""
    table: list[tuple[type, str, AttrsFn]] = [
        (kl.Conv1D, "conv", conv_attrs),
        (kl.Conv2D, "conv", conv_attrs),
        (kl.Conv3D, "conv", conv_attrs),
        (kl.Conv1DTranspose, "conv_transpose", conv_transpose_attrs),
        (kl.Conv2DTranspose, "conv_transpose", conv_transpose_attrs),
        (kl.Conv3DTranspose, "conv_transpose", conv_transpose_attrs),
        (kl.DepthwiseConv1D, "conv", depthwise_attrs),
        (kl.DepthwiseConv2D, "conv", depthwise_attrs),
        (kl.SeparableConv1D, "separable_conv", separable_attrs),
        (kl.SeparableConv2D, "separable_conv", separable_attrs),
        (kl.Dense, "dense", dense_attrs),
        (kl.Embedding, "embedding", embedding_attrs),
        (kl.LSTM, "rnn", rnn_attrs),
        (kl.GRU, "rnn", rnn_attrs),
        (kl.SimpleRNN, "rnn", rnn_attrs),
        (kl.Bidirectional, "rnn", bidirectional_attrs),
        (kl.BatchNormalization, "batch_norm", batch_norm_attrs),
        (kl.LayerNormalization, "layer_norm", layer_norm_attrs),
        (kl.GroupNormalization, "group_norm", group_norm_attrs),
        (kl.PReLU, "prelu", prelu_attrs),
        (kl.Flatten, "flatten", flatten_attrs),
        (kl.Reshape, "reshape", reshape_attrs),
        (kl.Permute, "transpose", permute_attrs),
        (kl.Concatenate, "concat", concat_attrs),
        (kl.Rescaling, "elementwise", elementwise_attrs("rescale")),
        (kl.Normalization, "input_normalization", normalization_attrs),
        (kl.Resizing, "resize", resizing_attrs),
        (kl.CenterCrop, "resize", resizing_attrs),
        (kl.Softmax, "softmax", no_attrs),
        (kl.Identity, "identity", no_attrs),
        (kl.Lambda, "tensor_op", no_attrs),
        (kl.RepeatVector, "tensor_op", no_attrs),
        (kl.Dot, "tensor_op", no_attrs),
    ]
    if hasattr(kl, "RMSNormalization"):
        table.append((kl.RMSNormalization, "rms_norm", rms_norm_attrs))
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        table.append((getattr(kl, name), "elementwise", elementwise_attrs(name.lower())))
    for rank in ("1D", "2D", "3D"):
        table += [
            (getattr(kl, f"MaxPooling{rank}"), "pool", pool_attrs("max")),
            (getattr(kl, f"AveragePooling{rank}"), "pool", pool_attrs("avg")),
            (getattr(kl, f"GlobalMaxPooling{rank}"), "global_pool", global_pool_attrs("max")),
            (getattr(kl, f"GlobalAveragePooling{rank}"), "global_pool", global_pool_attrs("avg")),
            (getattr(kl, f"ZeroPadding{rank}"), "pad", zero_padding_attrs),
            (getattr(kl, f"Cropping{rank}"), "pad", cropping_attrs),
            (getattr(kl, f"UpSampling{rank}"), "resize", upsampling_attrs),
        ]
    for name in ("Activation", "ReLU", "LeakyReLU", "ELU", "UnitNormalization"):
        table.append((getattr(kl, name), "activation", activation_attrs))
    for name in (
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking",
    ):
        if hasattr(kl, name):
            table.append((getattr(kl, name), "dropout", no_attrs))
    table += transformer_types()
    table += _application_types()
    return table


def _application_types() -> list[tuple[type, str, AttrsFn]]:
    """Helper layers keras.applications defines itself (ConvNeXt's LayerScale)."""
    try:
        from keras.src.applications.convnext import LayerScale
    except ImportError:  # pragma: no cover - a Keras without ConvNeXt
        return []
    return [(LayerScale, "scale", layer_scale_attrs)]


def default_type_map() -> TypeMap:
    """A registry holding the built-in translations (registering a class twice there is an error)."""
    return Registry("Keras layer translation", ((cls, LayerType(kind, attrs)) for cls, kind, attrs in builtin_types()))
