"""Keras conv, pooling, padding and resizing layers -> canonical attrs (the sliding-window family).

Translation only: kernel, stride, dilation and padding as the rules in `auditor.rules.spatial` read them.
"""

from __future__ import annotations

from typing import Any

from adapters.keras_layers import AttrsFn, input_shape, known


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
