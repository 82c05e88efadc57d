"""Pooling and resampling: no parameters, zero MACs (comparisons and averages are not MACs).

pool: op ("max", "avg", "lp"), kernel_size, stride, dilation, padding, ceil_mode, layout;
global_pool: op, spatial_rank, keepdims, layout;  adaptive_pool: op, output_size, layout;
resize (upsampling): scale (per spatial axis) or size (per spatial axis), layout.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import Rule, RuleError, attr, first_input
from auditor.rules.conv import conv_output_shape
from auditor.rules.registry import register
from auditor.rules.saved import first_output_shape, new_tensor, requires_grad, saved_input
from auditor.rules.spatial import UNKNOWN, join_channels, split_channels

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


class PoolRule(Rule):
    """Windowed pooling: the conv output-size formula with the input's channel count."""

    kind = "pool"
    perturbable = ("kernel_size", "stride")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        kernel = attr(layer, "kernel_size")
        _, channels, _ = split_channels(first_input(layer), len(kernel), attr(layer, "layout"))
        return [conv_output_shape(layer, channels)]  # type: ignore[arg-type]

    def describe(self, layer: Layer) -> str:
        k = "x".join(str(x) for x in layer.attrs.get("kernel_size", ()))
        return f"{layer.attrs.get('op', '')} {k}"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        return max_or_average(self, layer)


def max_or_average(rule: Rule, layer: Layer) -> list[SavedTensor] | None:
    """Max pooling keeps its input and the argmax of every window (int64); averaging needs only shapes."""
    op = layer.attrs.get("op")
    if op == "avg" or not requires_grad(layer):
        return []
    if op != "max":
        return None
    shape = first_output_shape(layer, rule)
    return None if shape is None else [saved_input(), new_tensor("argmax indices", shape, "int64")]


class GlobalPoolRule(Rule):
    """Global pooling over all spatial axes: spatial dims become 1 (keepdims) or disappear."""

    kind = "global_pool"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        rank = int(attr(layer, "spatial_rank"))
        layout = attr(layer, "layout")
        lead, channels, spatial = split_channels(first_input(layer), rank, layout)
        if layer.attrs.get("keepdims", False):
            return [join_channels(lead, channels, tuple(1 for _ in spatial), layout)]
        return [(*lead, channels)]

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        return [] if layer.attrs.get("op") == "avg" else None


class AdaptivePoolRule(Rule):
    """Adaptive pooling to a fixed output size (None in output_size keeps that input dim)."""

    kind = "adaptive_pool"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        size = tuple(attr(layer, "output_size"))
        layout = attr(layer, "layout")
        lead, channels, spatial = split_channels(first_input(layer), len(size), layout)
        out = tuple(n if s is None else int(s) for n, s in zip(spatial, size))
        return [join_channels(lead, channels, out, layout)]

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        return max_or_average(self, layer)


class ResizeRule(Rule):
    """Upsampling / resize: each spatial dim becomes floor(n*scale), or a given size."""

    kind = "resize"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        layout = attr(layer, "layout")
        if layer.attrs.get("size") is not None:
            size = tuple(int(s) for s in layer.attrs["size"])
            lead, channels, _ = split_channels(first_input(layer), len(size), layout)
            return [join_channels(lead, channels, size, layout)]
        scale = tuple(float(s) for s in attr(layer, "scale"))
        lead, channels, spatial = split_channels(first_input(layer), len(scale), layout)
        if min(scale) <= 0:
            raise RuleError(f"resize scale {scale} must be positive")
        out: tuple[Dim, ...] = tuple(
            math.floor(n * s + 1e-9) if isinstance(n, int) else UNKNOWN for n, s in zip(spatial, scale)
        )
        return [join_channels(lead, channels, out, layout)]

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        """Resampling's backward needs only the sizes."""
        return []


for _rule in (PoolRule(), GlobalPoolRule(), AdaptivePoolRule(), ResizeRule()):
    register(_rule)
