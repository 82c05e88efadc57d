"""Keras layer classes -> canonical kinds and canonical attrs (translation only, no layer math).

`register_layer(cls, kind, attrs)` is the public extension point: `attrs(layer)` returns the
canonical attrs of a built Keras layer.  Lookup follows the class's MRO, so a subclass of Conv2D
is translated as a conv unless it is registered itself.  Registering a class twice is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
from keras import layers as kl

from auditor.ir import Dim, Shape
from auditor.registry import Registry, RegistryError
from auditor.rules.spatial import UNKNOWN

AttrsFn = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class LayerType:
    """How one Keras layer class translates: its canonical kind and its attrs function.

    `walk`: the layer is a block whose sublayers are translated on their own; `kind` and `attrs` then
    describe only the weights it holds itself (ViT's class token next to its patch conv)."""

    kind: str
    attrs: AttrsFn
    walk: bool = False


DuplicateLayerError = RegistryError
"""The registry's one error class, under the name this module has always exported."""

TypeMap = Registry[type, LayerType]
"""Keras class -> LayerType; `lookup_type` walks the MRO so subclasses inherit their parent's kind."""


def lookup_type(types: TypeMap, cls: type) -> LayerType | None:
    """The translation of the most specific class in `cls`'s MRO that has one."""
    return types.first(cls.__mro__)


# ---------------------------------------------------------------- shapes -----------------------------


def to_shape(shape: Any) -> Shape:
    """A Keras shape as an IR shape: a None batch dim -> "batch", any other None dim (a sequence length
    Keras leaves open, and does not name) -> "?"."""
    out: list[Dim] = []
    for i, d in enumerate(tuple(shape)):
        out.append(int(d) if d is not None else ("batch" if i == 0 else UNKNOWN))
    return tuple(out)


def first_node(layer: Any) -> Any | None:
    """The first graph node where `layer` was called on symbolic tensors, if any."""
    for node in getattr(layer, "_inbound_nodes", []) or []:
        if node.input_tensors:
            return node
    return None


def build_shapes(layer: Any) -> list[Shape]:
    """Input shapes Keras recorded when it built `layer` (no graph node: subclassed / eager models)."""
    try:
        config = layer.get_build_config() or {}
    except Exception:  # noqa: BLE001 - a user layer's build config may be anything
        return []
    if "input_shape" in config:
        return [to_shape(config["input_shape"])]
    shapes = config.get("shapes_dict") or {}
    return [to_shape(s) for s in shapes.values() if isinstance(s, (tuple, list))]


def input_shapes(layer: Any) -> list[Shape]:
    node = first_node(layer)
    if node is not None:
        return [to_shape(t.shape) for t in node.input_tensors]
    return build_shapes(layer)


def input_shape(layer: Any) -> Shape:
    shapes = input_shapes(layer)
    return shapes[0] if shapes else ()


def known(d: Dim) -> int | None:
    return d if isinstance(d, int) else None


def static_or_none(shape: Shape) -> tuple[int, ...] | None:
    """`shape` when every dim is known; None (the attr is then left out) otherwise."""
    return tuple(int(d) for d in shape) if all(isinstance(d, int) for d in shape) else None


# ---------------------------------------------------------------- attrs ------------------------------


def _layout(layer: Any) -> str:
    return "channels_first" if getattr(layer, "data_format", "channels_last") == "channels_first" else "channels_last"


def _padding(value: str) -> str:
    return {"same": "same_upper", "valid": "valid", "causal": "causal"}[str(value).lower()]


def _channel_dim(layer: Any, rank: int) -> int | None:
    shape = input_shape(layer)
    if len(shape) < rank + 1:
        return None
    return known(shape[1] if _layout(layer) == "channels_first" else shape[-1])


def _window(layer: Any) -> dict[str, Any]:
    kernel = tuple(int(k) for k in layer.kernel_size)
    return {
        "kernel_size": kernel,
        "stride": tuple(int(s) for s in layer.strides),
        "dilation": tuple(int(d) for d in layer.dilation_rate),
        "padding": _padding(layer.padding),
        "layout": _layout(layer),
    }


def conv_attrs(layer: Any) -> dict[str, Any]:
    attrs = _window(layer)
    return attrs | {
        "in_channels": _channel_dim(layer, len(attrs["kernel_size"])),
        "out_channels": int(layer.filters),
        "groups": int(getattr(layer, "groups", 1) or 1),
        "use_bias": bool(layer.use_bias),
    }


def conv_transpose_attrs(layer: Any) -> dict[str, Any]:
    """Keras transposed conv; with an explicit output_padding, Keras's "same" is canonical "half"
    (pads of extent//2 on both sides, not the n*s of output_padding=None)."""
    attrs = conv_attrs(layer)
    out_pad = getattr(layer, "output_padding", None)
    if out_pad is None:
        attrs["output_padding"] = "auto"
        return attrs
    attrs["output_padding"] = tuple(int(p) for p in out_pad)
    if attrs["padding"] == "same_upper":
        attrs["padding"] = "half"
    return attrs


def depthwise_attrs(layer: Any) -> dict[str, Any]:
    attrs = _window(layer)
    cin = _channel_dim(layer, len(attrs["kernel_size"]))
    return attrs | {
        "in_channels": cin,
        "out_channels": None if cin is None else cin * int(layer.depth_multiplier),
        "groups": cin,
        "use_bias": bool(layer.use_bias),
    }


def separable_attrs(layer: Any) -> dict[str, Any]:
    return conv_attrs(layer) | {"depth_multiplier": int(layer.depth_multiplier), "groups": 1}


def dense_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    return {
        "in_features": known(shape[-1]) if shape else None,
        "out_features": int(layer.units),
        "use_bias": bool(layer.use_bias),
    }


def embedding_attrs(layer: Any) -> dict[str, Any]:
    return {"num_embeddings": int(layer.input_dim), "embedding_dim": int(layer.output_dim)}


_CELLS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


def _rnn_base(layer: Any) -> dict[str, Any]:
    cell_name = next((_CELLS[c.__name__] for c in type(layer).__mro__ if c.__name__ in _CELLS), None)
    bias = int(bool(layer.use_bias))
    if cell_name == "gru" and getattr(layer, "reset_after", False):
        bias *= 2
    return {
        "cell": cell_name,
        "hidden_size": int(layer.units),
        "num_layers": 1,
        "bias_vectors": bias,
        "proj_size": 0,
        "batch_first": True,
    }


def rnn_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    return _rnn_base(layer) | {"input_size": known(shape[-1]) if shape else None, "bidirectional": False}


def bidirectional_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    base = _rnn_base(layer.forward_layer)
    if _rnn_base(layer.backward_layer) != base:
        base["backward_differs"] = True
    return base | {"input_size": known(shape[-1]) if shape else None, "bidirectional": True}


def batch_norm_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    axis = int(layer.axis) % len(shape) if shape else -1
    return {
        "num_features": known(shape[axis]) if shape else None,
        "scale": bool(layer.scale),
        "center": bool(layer.center),
        "stats": "params",
        "tracks_batches": False,
        "layout": "channels_first" if axis == 1 and len(shape) > 2 else "channels_last",
    }


def _axes(layer: Any, axis: Any) -> list[int]:
    shape = input_shape(layer)
    axes = [axis] if isinstance(axis, int) else list(axis)
    return sorted(int(a) % len(shape) for a in axes) if shape else []


def layer_norm_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    normalized = tuple(shape[a] for a in _axes(layer, layer.axis))
    rms = bool(getattr(layer, "rms_scaling", False))
    return {
        "normalized_shape": static_or_none(normalized),
        "scale": bool(layer.scale),
        "center": bool(layer.center) and not rms,
    }


def rms_norm_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    normalized = tuple(shape[a] for a in _axes(layer, layer.axis))
    return {"normalized_shape": static_or_none(normalized), "scale": True, "center": False}


def group_norm_attrs(layer: Any) -> dict[str, Any]:
    shape = input_shape(layer)
    axes = _axes(layer, layer.axis)
    return {
        "num_groups": int(layer.groups),
        "num_channels": known(shape[axes[0]]) if axes else None,
        "scale": bool(layer.scale),
        "center": bool(layer.center),
    }


def prelu_attrs(layer: Any) -> dict[str, Any]:
    return {"shared_axes": tuple(int(a) for a in (layer.shared_axes or ()))}


def pool_attrs(op: str) -> AttrsFn:
    def attrs(layer: Any) -> dict[str, Any]:
        kernel = tuple(int(k) for k in layer.pool_size)
        return {
            "op": op,
            "kernel_size": kernel,
            "stride": tuple(int(s) for s in (layer.strides or kernel)),
            "dilation": (1,) * len(kernel),
            "padding": _padding(layer.padding),
            "ceil_mode": False,
            "layout": _layout(layer),
        }

    return attrs


def global_pool_attrs(op: str) -> AttrsFn:
    def attrs(layer: Any) -> dict[str, Any]:
        return {
            "op": op,
            "spatial_rank": max(len(input_shape(layer)) - 2, 1),
            "keepdims": bool(layer.keepdims),
            "layout": _layout(layer),
        }

    return attrs


def _full_rank_pads(layer: Any, spatial: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if _layout(layer) == "channels_first":
        return [(0, 0), (0, 0), *spatial]
    return [(0, 0), *spatial, (0, 0)]


def _pairs(value: Any) -> list[tuple[int, int]]:
    """Keras padding/cropping config as (begin, end) pairs, one per spatial axis."""
    if isinstance(value, int):
        return [(value, value)]
    items = list(value)
    if all(isinstance(v, int) for v in items) and len(items) == 2 and not isinstance(items[0], (tuple, list)):
        return [(int(items[0]), int(items[1]))]
    return [(int(b), int(e)) for b, e in items]


def zero_padding_attrs(layer: Any) -> dict[str, Any]:
    return {"pads": _full_rank_pads(layer, _pairs(layer.padding))}


def cropping_attrs(layer: Any) -> dict[str, Any]:
    """Cropping as negative pads (ONNX Pad's convention), so the pad rule recomputes the shape."""
    return {"pads": _full_rank_pads(layer, [(-b, -e) for b, e in _pairs(layer.cropping)])}


def upsampling_attrs(layer: Any) -> dict[str, Any]:
    size = layer.size
    scale = (size,) if isinstance(size, int) else tuple(size)
    return {"scale": tuple(float(s) for s in scale), "layout": _layout(layer)}


def resizing_attrs(layer: Any) -> dict[str, Any]:
    return {"size": (int(layer.height), int(layer.width)), "layout": _layout(layer)}


def reshape_attrs(layer: Any) -> dict[str, Any]:
    return {"shape": tuple(int(d) for d in layer.target_shape), "keep_leading": 1}


def permute_attrs(layer: Any) -> dict[str, Any]:
    return {"perm": (0, *(int(d) for d in layer.dims))}


def flatten_attrs(layer: Any) -> dict[str, Any]:
    return {"start_axis": 1, "end_axis": -1}


def concat_attrs(layer: Any) -> dict[str, Any]:
    return {"axis": int(layer.axis)}


def elementwise_attrs(op: str) -> AttrsFn:
    return lambda layer: {"op": op}


def no_attrs(layer: Any) -> dict[str, Any]:
    return {}


def normalization_attrs(layer: Any) -> dict[str, Any]:
    """Keras Normalization: learned statistics over the kept axes, unless given as constants."""
    shape = input_shape(layer)
    axis = layer.axis if layer.axis is not None else ()
    kept = _axes(layer, axis) if axis != () else []
    stats = "none" if getattr(layer, "input_mean", None) is not None else "params"
    return {"feature_shape": static_or_none(tuple(shape[a] for a in kept)), "stats": stats}


def layer_scale_attrs(layer: Any) -> dict[str, Any]:
    return {"shape": (int(layer.projection_dim),)}


def _activation_kind(layer: Any) -> dict[str, Any]:
    return {"op": type(layer).__name__.lower()}


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
        table.append((getattr(kl, name), "activation", _activation_kind))
    for name in (
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking",
    ):
        if hasattr(kl, name):
            table.append((getattr(kl, name), "dropout", no_attrs))
    from adapters.keras_transformers import transformer_types

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


__all__ = ["DuplicateLayerError", "LayerType", "TypeMap", "default_type_map", "keras", "lookup_type"]
