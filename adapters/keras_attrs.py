"""Keras's dense, recurrent, normalisation, shape and activation layers -> canonical attrs, from their config.

Translation only: each function reads a `LayerConfig` (the layer's `get_config()` dict, as a live
model gives it or a saved config.json holds it, and its input shapes); the math is in `auditor.rules`.
"""

from __future__ import annotations

from typing import Any

from adapters.keras_layers import ConfigAttrsFn, LayerConfig, known, static_or_none


def dense_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    return {
        "in_features": known(shape[-1]) if shape else None,
        "out_features": int(c["units"]),
        "use_bias": bool(c["use_bias"]),
    }


def embedding_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"num_embeddings": int(c["input_dim"]), "embedding_dim": int(c["output_dim"])}


_CELLS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


def _rnn_base(c: LayerConfig) -> dict[str, Any]:
    cell_name = next((cell for name, cell in _CELLS.items() if c.is_a(name)), None)
    bias = int(bool(c["use_bias"]))
    if cell_name == "gru" and c.get("reset_after", False):
        bias *= 2
    return {
        "cell": cell_name,
        "hidden_size": int(c["units"]),
        "num_layers": 1,
        "bias_vectors": bias,
        "proj_size": 0,
        "batch_first": True,
    }


def rnn_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    return _rnn_base(c) | {"input_size": known(shape[-1]) if shape else None, "bidirectional": False}


def bidirectional_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    base = _rnn_base(c.inner["layer"])
    if _rnn_base(c.inner["backward_layer"]) != base:
        base["backward_differs"] = True
    return base | {"input_size": known(shape[-1]) if shape else None, "bidirectional": True}


def _axes(c: LayerConfig, axis: Any) -> list[int]:
    shape = c.input_shape
    axes = [axis] if isinstance(axis, int) else list(axis)
    return sorted(int(a) % len(shape) for a in axes) if shape else []


def batch_norm_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    axis = c["axis"]
    axis = int(axis[0] if isinstance(axis, (list, tuple)) else axis) % len(shape) if shape else -1
    return {
        "num_features": known(shape[axis]) if shape else None,
        "scale": bool(c["scale"]),
        "center": bool(c["center"]),
        "stats": "params",
        "tracks_batches": False,
        "layout": "channels_first" if axis == 1 and len(shape) > 2 else "channels_last",
    }


def layer_norm_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    normalized = tuple(shape[a] for a in _axes(c, c["axis"]))
    rms = bool(c.get("rms_scaling", False))
    return {
        "normalized_shape": static_or_none(normalized),
        "scale": bool(c["scale"]),
        "center": bool(c["center"]) and not rms,
    }


def rms_norm_attrs(c: LayerConfig) -> dict[str, Any]:
    normalized = tuple(c.input_shape[a] for a in _axes(c, c["axis"]))
    return {"normalized_shape": static_or_none(normalized), "scale": True, "center": False}


def group_norm_attrs(c: LayerConfig) -> dict[str, Any]:
    shape = c.input_shape
    axes = _axes(c, c["axis"])
    return {
        "num_groups": int(c["groups"]),
        "num_channels": known(shape[axes[0]]) if axes else None,
        "scale": bool(c["scale"]),
        "center": bool(c["center"]),
    }


def prelu_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"shared_axes": tuple(int(a) for a in (c.get("shared_axes") or ()))}


def reshape_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"shape": tuple(int(d) for d in c["target_shape"]), "keep_leading": 1}


def permute_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"perm": (0, *(int(d) for d in c["dims"]))}


def flatten_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"start_axis": 1, "end_axis": -1}


def concat_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"axis": int(c["axis"])}


def elementwise_attrs(op: str) -> ConfigAttrsFn:
    return lambda c: {"op": op}


def no_attrs(c: LayerConfig) -> dict[str, Any]:
    return {}


def normalization_attrs(c: LayerConfig) -> dict[str, Any]:
    """Keras Normalization: learned statistics over the kept axes, unless given as constants."""
    shape = c.input_shape
    axis = c.get("axis")
    axis = () if axis is None else axis
    kept = _axes(c, axis) if axis != () else []
    stats = "none" if c.get("mean") is not None else "params"
    return {"feature_shape": static_or_none(tuple(shape[a] for a in kept)), "stats": stats}


def layer_scale_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"shape": (int(c["projection_dim"]),)}


def activation_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"op": c.class_name.lower()}
