"""Keras layer classes -> canonical kinds and canonical attrs (translation only, no layer math).

`register_layer(cls, kind, attrs)` is the public extension point: `attrs(layer)` returns the
canonical attrs of a built Keras layer.  Lookup follows the class's MRO, so a subclass of Conv2D
is translated as a conv unless it is registered itself.  Registering a class twice is an error.
This module holds the registry types, the shape helpers every attrs function uses and the attrs of
the dense, recurrent, normalisation and shape layers; `keras_spatial` has the conv and pooling
family, `keras_transformers` the attention family, `keras_types` the table of them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def activation_attrs(layer: Any) -> dict[str, Any]:
    return {"op": type(layer).__name__.lower()}


__all__ = ["AttrsFn", "DuplicateLayerError", "LayerType", "TypeMap", "input_shape", "known", "lookup_type", "to_shape"]
