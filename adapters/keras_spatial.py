"""Keras conv, pooling, padding and resizing layers -> canonical attrs (the sliding-window family).

Translation only, from each layer's config (`LayerConfig`): kernel, stride, dilation and padding as the
rules in `auditor.rules.spatial` read them.
"""

from __future__ import annotations

from typing import Any

from adapters.keras_layers import ConfigAttrsFn, LayerConfig, known


def _layout(c: LayerConfig) -> str:
    return "channels_first" if c.get("data_format") == "channels_first" else "channels_last"


def _padding(value: str) -> str:
    return {"same": "same_upper", "valid": "valid", "causal": "causal"}[str(value).lower()]


def _channel_dim(c: LayerConfig, rank: int) -> int | None:
    shape = c.input_shape
    if len(shape) < rank + 1:
        return None
    return known(shape[1] if _layout(c) == "channels_first" else shape[-1])


def _window(c: LayerConfig) -> dict[str, Any]:
    kernel = tuple(int(k) for k in c["kernel_size"])
    return {
        "kernel_size": kernel,
        "stride": tuple(int(s) for s in c["strides"]),
        "dilation": tuple(int(d) for d in c["dilation_rate"]),
        "padding": _padding(c["padding"]),
        "layout": _layout(c),
    }


def conv_attrs(c: LayerConfig) -> dict[str, Any]:
    attrs = _window(c)
    return attrs | {
        "in_channels": _channel_dim(c, len(attrs["kernel_size"])),
        "out_channels": int(c["filters"]),
        "groups": int(c.get("groups", 1) or 1),
        "use_bias": bool(c["use_bias"]),
    }


def conv_transpose_attrs(c: LayerConfig) -> dict[str, Any]:
    """Keras transposed conv; with an explicit output_padding, Keras's "same" is canonical "half"
    (pads of extent//2 on both sides, not the n*s of output_padding=None)."""
    attrs = conv_attrs(c)
    out_pad = c.get("output_padding")
    if out_pad is None:
        attrs["output_padding"] = "auto"
        return attrs
    attrs["output_padding"] = tuple(int(p) for p in out_pad)
    if attrs["padding"] == "same_upper":
        attrs["padding"] = "half"
    return attrs


def depthwise_attrs(c: LayerConfig) -> dict[str, Any]:
    attrs = _window(c)
    cin = _channel_dim(c, len(attrs["kernel_size"]))
    return attrs | {
        "in_channels": cin,
        "out_channels": None if cin is None else cin * int(c["depth_multiplier"]),
        "groups": cin,
        "use_bias": bool(c["use_bias"]),
    }


def separable_attrs(c: LayerConfig) -> dict[str, Any]:
    return conv_attrs(c) | {"depth_multiplier": int(c["depth_multiplier"]), "groups": 1}


def pool_attrs(op: str) -> ConfigAttrsFn:
    def attrs(c: LayerConfig) -> dict[str, Any]:
        kernel = tuple(int(k) for k in c["pool_size"])
        return {
            "op": op,
            "kernel_size": kernel,
            "stride": tuple(int(s) for s in (c.get("strides") or kernel)),
            "dilation": (1,) * len(kernel),
            "padding": _padding(c["padding"]),
            "ceil_mode": False,
            "layout": _layout(c),
        }

    return attrs


def global_pool_attrs(op: str) -> ConfigAttrsFn:
    def attrs(c: LayerConfig) -> dict[str, Any]:
        return {
            "op": op,
            "spatial_rank": max(len(c.input_shape) - 2, 1),
            "keepdims": bool(c.get("keepdims", False)),
            "layout": _layout(c),
        }

    return attrs


def _full_rank_pads(c: LayerConfig, spatial: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if _layout(c) == "channels_first":
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


def zero_padding_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"pads": _full_rank_pads(c, _pairs(c["padding"]))}


def cropping_attrs(c: LayerConfig) -> dict[str, Any]:
    """Cropping as negative pads (ONNX Pad's convention), so the pad rule recomputes the shape."""
    return {"pads": _full_rank_pads(c, [(-b, -e) for b, e in _pairs(c["cropping"])])}


def upsampling_attrs(c: LayerConfig) -> dict[str, Any]:
    size = c["size"]
    scale = (size,) if isinstance(size, int) else tuple(size)
    return {"scale": tuple(float(s) for s in scale), "layout": _layout(c)}


def resizing_attrs(c: LayerConfig) -> dict[str, Any]:
    return {"size": (int(c["height"]), int(c["width"])), "layout": _layout(c)}
