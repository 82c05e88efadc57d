"""Fully connected layers and weight-free matrix products.

dense: attrs in_features, out_features, use_bias, and optionally flattened_from (the un-flattened
feature shape, e.g. (32, 5, 5), only to write the formula as a person would: (32*5*5+1)*256).
Applies to the last axis of an input of any rank (Keras Dense on N-d inputs, PyTorch Linear).
Parameters (in+1)*out; MACs = positions * in * out, bias excluded.
matmul: numpy matmul semantics over input_shapes [A, B]; MACs = batch * n * k * m.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import (
    ParamCount,
    Rule,
    RuleError,
    attr,
    first_input,
    per_output_count,
    product_text,
    static_numel,
)
from auditor.rules.meta import show
from auditor.rules.registry import register
from auditor.rules.saved import as_computed, fact, new_tensor, requires_grad, weighted_inputs
from auditor.rules.saved_sources import INPUT
from auditor.rules.shapes import batch_dims_merge, broadcast

if TYPE_CHECKING:
    from auditor.rules.change import Change
    from auditor.rules.saved_records import SaveContext, SavedTensor


def _features_text(layer: Layer, in_features: int) -> str:
    source = layer.attrs.get("flattened_from")
    if source and math.prod(source) == in_features and len(source) > 1:
        return product_text(source)
    return str(in_features)


class DenseRule(Rule):
    """Dense / Linear / Gemm with a weight: (in+1)*out parameters; positions*in*out MACs."""

    kind = "dense"
    biases = {"use_bias": False}
    head = True
    family = "dense"
    perturbable = ("in_features", "out_features", "use_bias")
    columns = {"in_channels": "in_features", "out_channels": "out_features", "use_bias": "use_bias"}
    codes = {"use_bias": "bias", "in_features": "in_channels", "out_features": "out_channels"}
    aliases = ("linear", "fc", "fully_connected", "gemm", "innerproduct", "denselayer")
    reads_flattened = True
    table_prefixes = ("fc", "dense")

    def _features(self, layer: Layer) -> tuple[int, int]:
        fin, fout = int(attr(layer, "in_features")), int(attr(layer, "out_features"))
        if layer.input_shapes and first_input(layer):
            seen = first_input(layer)[-1]
            if isinstance(seen, int) and seen != fin:
                raise RuleError(f"input has {seen} features but the layer declares in_features={fin}")
        return fin, fout

    def count(self, layer: Layer) -> ParamCount:
        fin, fout = self._features(layer)
        return per_output_count(fin, _features_text(layer, fin), fout, bool(layer.attrs.get("use_bias", True)))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        _, fout = self._features(layer)
        return [(*first_input(layer)[:-1], fout)]

    def macs(self, layer: Layer) -> int:
        fin, fout = self._features(layer)
        positions = static_numel(first_input(layer)[:-1], "dense input size")
        return positions * fin * fout

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('in_features')}->{layer.attrs.get('out_features')}"

    def finding_code(self, layer: Layer, attr: str, after_flatten: bool = False) -> str:
        """A changed input size after a flatten is "dense_input": the map before the flatten differs."""
        if attr == "in_features" and (after_flatten or layer.attrs.get("flattened_from")):
            return "dense_input"
        return super().finding_code(layer, attr, after_flatten)

    def along(self, layer: Layer, changes: dict[str, Any]) -> dict[str, Any]:
        """A new in_features after a flatten of (C, H, W) gets a guessed square map, so it reads 16*6*6."""
        guess = _flatten_guess(layer.attrs.get("flattened_from"), changes.get("in_features"))
        if guess is None or "flattened_from" in changes:
            return changes
        return {**changes, "flattened_from": guess}

    def reason(self, change: Change) -> str | None:
        if change.attr != "in_features":
            return None
        source = change.layer.attrs.get("flattened_from")
        guess = _flatten_guess(source, change.new)
        mine = f"{change.old} = {show(source).replace('x', '*')} features" if source else f"{change.old} features"
        theirs = f"{change.new} = {show(guess).replace('x', '*')}" if guess else str(change.new)
        text = f"its input has {change.contrast(mine, theirs)}"
        if change.after_flatten or source:
            text += ": the flatten size comes from a different spatial size before the flatten"
            if source and guess:
                text += f" (a {change.contrast(show(_spatial(source)), show(_spatial(guess)))} map)"
        return text

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The input, for the weight's gradient (the weight itself is a parameter, not an activation)."""
        return weighted_inputs(layer)


def _flatten_guess(source: Any, features: Any) -> tuple[int, int, int] | None:
    """A square (C, S, S) or (S, S, C) map of `features` elements with the channels of `source`."""
    if not source or not isinstance(features, int) or len(source) != 3:
        return None
    for channel_axis in (0, -1):
        channels = source[channel_axis]
        side = math.isqrt(features // channels) if features % channels == 0 else 0
        if side and side * side * channels == features:
            return (channels, side, side) if channel_axis == 0 else (side, side, channels)
    return None


def _spatial(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The spatial part of a 3-D (C, H, W) or (H, W, C) flatten source, guessing the channel axis."""
    return shape[1:] if shape[1] == shape[2] else shape[:2]


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """numpy.matmul's result shape, 1-D operands promoted and their added axis removed again."""
    if not a or not b:
        raise RuleError("matmul of a scalar")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    k_a, k_b = a2[-1], b2[-2]
    if isinstance(k_a, int) and isinstance(k_b, int) and k_a != k_b:
        raise RuleError(f"matmul inner dims differ: {a} @ {b}")
    out: tuple[Dim, ...] = (*broadcast(a2[:-2], b2[:-2]), a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


class MatMulRule(Rule):
    """A matrix product of two activations (attention's QK^T, AV): no parameters."""

    kind = "matmul"
    family = "dense"

    def _operands(self, layer: Layer) -> tuple[Shape, Shape]:
        if len(layer.input_shapes) < 2:
            raise RuleError(f"matmul {layer.path!r} needs two input shapes")
        return layer.input_shapes[0], layer.input_shapes[1]

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [matmul_shape(*self._operands(layer))]

    def macs(self, layer: Layer) -> int:
        a, b = self._operands(layer)
        out = matmul_shape(a, b)
        k = a[-1]
        return static_numel(out, "matmul output") * static_numel((k,), "matmul inner dim")

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """Each operand, when the other one needs a gradient; a batched operand whose batch dims cannot be
        merged without a copy (a transposed view) is kept as that contiguous copy."""
        saved: list[SavedTensor] = []
        for index, other in ((0, 1), (1, 0)):
            if index < len(layer.input_shapes) and requires_grad(layer, other):
                saved.append(_operand(layer, index))
        return saved


def _operand(layer: Layer, index: int) -> SavedTensor:
    shape = layer.input_shapes[index]
    found = fact(layer, INPUT, index)
    if found is not None and found.strides is not None and len(shape) > 3 and not batch_dims_merge(shape, found.strides):
        return new_tensor(f"operand {index} (contiguous copy)", shape, found.dtype)
    return as_computed(layer, index, f"operand {index}")


register(DenseRule())
register(MatMulRule())
