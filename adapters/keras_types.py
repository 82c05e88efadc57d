"""The table of Keras's own layer classes nn-auditor translates: class name -> kind, attrs, variables.

Keyed by the name Keras serializes ("keras.layers.Conv2D"), so a saved config.json is translated
without importing Keras (`adapters.keras_config`), and resolved into classes for live models
(`default_type_map`, the adapter's registry `adapters.keras.TYPES`).  keras_hub's classes join the
registry when keras_hub is in use (`adapters.keras_hub_types`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from adapters.keras_attrs import (
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
from adapters.keras_layers import ConfigAttrsFn, LayerConfig, LayerType, TypeMap, from_config
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
from adapters.keras_transformers import attention_attrs, einsum_dense_attrs, reversible_embedding_attrs
from auditor.registry import Registry

VariablesFn = Callable[[LayerConfig], tuple[str, ...]]
"""A layer's config -> the names of the variables each of its weight groups holds, in Keras's order."""


def weights(*names: str | tuple[str, str]) -> VariablesFn:
    """Variable names in the order Keras creates and saves them; `("bias", "use_bias")` only when the
    config's `use_bias` is true."""

    def variables(c: LayerConfig) -> tuple[str, ...]:
        return tuple(n if isinstance(n, str) else n[0] for n in names if isinstance(n, str) or c.get(n[1]))

    return variables


def _layer_norm_variables(c: LayerConfig) -> tuple[str, ...]:
    rms = bool(c.get("rms_scaling", False))
    return (("gamma",) if c["scale"] or rms else ()) + (("beta",) if c["center"] and not rms else ())


def _reversible_variables(c: LayerConfig) -> tuple[str, ...]:
    return ("embeddings",) if c.get("tie_weights", True) else ("embeddings", "reverse_embeddings")


def _normalization_variables(c: LayerConfig) -> tuple[str, ...]:
    return () if c.get("mean") is not None else ("mean", "variance", "count")


_KERNEL = weights("kernel", ("bias", "use_bias"))
_RNN = weights("kernel", "recurrent_kernel", ("bias", "use_bias"))
_NONE = weights()


@dataclass(frozen=True)
class KerasClass:
    """How one of Keras's own classes translates: kind, attrs (from its config) and the variables it saves.

    `variables` names the positional variables of each weight group a saved layer holds (a Dense's
    `vars/0`, `vars/1`; each of MultiHeadAttention's four projections); `frozen` those Keras creates
    non-trainable."""

    kind: str
    attrs: ConfigAttrsFn
    variables: VariablesFn = _NONE
    frozen: frozenset[str] = frozenset()


def _layers() -> dict[str, KerasClass]:
    """keras.layers classes by name."""
    table = {
        **{f"Conv{r}": KerasClass("conv", conv_attrs, _KERNEL) for r in ("1D", "2D", "3D")},
        **{f"Conv{r}Transpose": KerasClass("conv_transpose", conv_transpose_attrs, _KERNEL) for r in ("1D", "2D", "3D")},
        **{f"DepthwiseConv{r}": KerasClass("conv", depthwise_attrs, _KERNEL) for r in ("1D", "2D")},
        **{f"SeparableConv{r}": KerasClass("separable_conv", separable_attrs,
                                           weights("depthwise_kernel", "pointwise_kernel", ("bias", "use_bias")))
           for r in ("1D", "2D")},
        "Dense": KerasClass("dense", dense_attrs, _KERNEL),
        "Embedding": KerasClass("embedding", embedding_attrs, weights("embeddings")),
        "LSTM": KerasClass("rnn", rnn_attrs, _RNN),
        "GRU": KerasClass("rnn", rnn_attrs, _RNN),
        "SimpleRNN": KerasClass("rnn", rnn_attrs, _RNN),
        "Bidirectional": KerasClass("rnn", bidirectional_attrs, lambda c: _RNN(c.inner["layer"])),
        "BatchNormalization": KerasClass("batch_norm", batch_norm_attrs,
                                         weights(("gamma", "scale"), ("beta", "center"), "moving_mean",
                                                 "moving_variance"), frozenset({"moving_mean", "moving_variance"})),
        "LayerNormalization": KerasClass("layer_norm", layer_norm_attrs, _layer_norm_variables),
        "GroupNormalization": KerasClass("group_norm", group_norm_attrs, weights(("gamma", "scale"), ("beta", "center"))),
        "RMSNormalization": KerasClass("rms_norm", rms_norm_attrs, weights("scale")),
        "PReLU": KerasClass("prelu", prelu_attrs, weights("alpha")),
        "Flatten": KerasClass("flatten", flatten_attrs),
        "Reshape": KerasClass("reshape", reshape_attrs),
        "Permute": KerasClass("transpose", permute_attrs),
        "Concatenate": KerasClass("concat", concat_attrs),
        "Rescaling": KerasClass("elementwise", elementwise_attrs("rescale")),
        "Normalization": KerasClass("input_normalization", normalization_attrs, _normalization_variables,
                                    frozenset({"mean", "variance", "count"})),
        "Resizing": KerasClass("resize", resizing_attrs),
        "CenterCrop": KerasClass("resize", resizing_attrs),
        "Softmax": KerasClass("softmax", no_attrs),
        "Identity": KerasClass("identity", no_attrs),
        "Lambda": KerasClass("tensor_op", no_attrs),
        "RepeatVector": KerasClass("tensor_op", no_attrs),
        "Dot": KerasClass("tensor_op", no_attrs),
        "EinsumDense": KerasClass("einsum_dense", einsum_dense_attrs, weights("kernel", ("bias", "bias_axes"))),
        "MultiHeadAttention": KerasClass("attention", attention_attrs, _KERNEL),
        "ReversibleEmbedding": KerasClass("embedding", reversible_embedding_attrs, _reversible_variables),
    }
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        table[name] = KerasClass("elementwise", elementwise_attrs(name.lower()))
    for rank in ("1D", "2D", "3D"):
        table |= {
            f"MaxPooling{rank}": KerasClass("pool", pool_attrs("max")),
            f"AveragePooling{rank}": KerasClass("pool", pool_attrs("avg")),
            f"GlobalMaxPooling{rank}": KerasClass("global_pool", global_pool_attrs("max")),
            f"GlobalAveragePooling{rank}": KerasClass("global_pool", global_pool_attrs("avg")),
            f"ZeroPadding{rank}": KerasClass("pad", zero_padding_attrs),
            f"Cropping{rank}": KerasClass("pad", cropping_attrs),
            f"UpSampling{rank}": KerasClass("resize", upsampling_attrs),
        }
    for name in ("Activation", "ReLU", "LeakyReLU", "ELU", "UnitNormalization"):
        table[name] = KerasClass("activation", activation_attrs)
    for name in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking"):
        table[name] = KerasClass("dropout", no_attrs)
    return {f"keras.layers.{name}": entry for name, entry in table.items()}


KERAS_CLASSES: dict[str, KerasClass] = {
    **_layers(),
    "keras.src.applications.convnext.LayerScale": KerasClass("scale", layer_scale_attrs, weights("gamma")),
}
"""Serialized class name ("module.ClassName", as config.json's `module` and `class_name` give it) -> translation."""


def class_key(module: str, class_name: str) -> str:
    """The table key of a serialized class: Keras writes `keras.layers` for its public layers."""
    return f"{module}.{class_name}"


def default_type_map() -> TypeMap:
    """The registry of live classes: every table entry whose class this Keras version has (imports Keras)."""
    entries = []
    for key, entry in KERAS_CLASSES.items():
        module, _, name = key.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # a class this Keras version does not have
            continue
        entries.append((cls, LayerType(entry.kind, from_config(entry.attrs))))
    return Registry("Keras layer translation", entries)
