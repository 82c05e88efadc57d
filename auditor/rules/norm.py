"""Normalisation layers: one scale (gamma) and one shift (beta) per normalised feature.

Canonical attrs: scale, center (bools: gamma / beta present), and per kind
  batch_norm: num_features, stats ("buffers": PyTorch running stats are buffers, "params": Keras and
    ONNX count moving mean/variance as non-trainable parameters, "none"), tracks_batches (PyTorch's
    num_batches_tracked buffer), layout;
  instance_norm: num_features, stats, tracks_batches;  group_norm: num_groups, num_channels;
  layer_norm / rms_norm: normalized_shape (tuple of the trailing dims normalised), input_bias (onnxruntime's
    SkipLayerNormalization also adds the preceding dense layer's bias vector to its input: one more vector).
MACs: one per output element (inference's folded scale-and-shift).  BatchNorm's rule is `batch_norm`'s.
Saved for backward (PyTorch): the input and the per-group statistics (mean and 1/std, in float32 for
half-precision inputs); RMSNorm as PyTorch and transformers write it: the input (upcast to float32),
1/rms, and the normalised tensor the weight multiplies (cast back to a half-precision input's dtype).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from auditor.ir import Layer, Shape
from auditor.rules.base import (
    ParamCount,
    Rule,
    RuleError,
    Term,
    attr,
    first_input,
    product_text,
    static,
    static_numel,
)
from auditor.rules.registry import register
from auditor.rules.saved import dtype_of, new_tensor, opmath, requires_grad, saved_input, trains_weights

if TYPE_CHECKING:
    from auditor.rules.change import Change
    from auditor.rules.saved_records import SaveContext, SavedTensor

STATS = {
    "params": "counts the moving mean and variance as non-trainable parameters (Keras: 4*C)",
    "buffers": "keeps the running mean and variance as buffers (PyTorch: 2*C parameters + 2*C buffers)",
    "none": "has no running statistics",
}
"""What each `stats` convention means, in the words a BatchNorm difference is explained with."""
FEATURE_COLUMNS = {"out_channels": "num_features", "in_channels": "num_features"}


class NormRule(Rule):
    """Per-feature affine normalisation; subclasses say how many features and whether stats exist."""

    perturbable = ("scale", "center", "stats")
    choices = {"stats": ("params", "buffers", "none")}
    conventions = {"stats": "none"}
    """Frameworks differ in whether running statistics count as parameters: compared without them."""
    codes = {"use_bias": "bias", "num_features": "out_channels", "stats": "bn_convention"}

    def features(self, layer: Layer) -> tuple[int, str]:
        """(number of normalised features, how a person writes it)."""
        n = int(attr(layer, "num_features"))
        return n, str(n)

    def count(self, layer: Layer) -> ParamCount:
        n, text = self.features(layer)
        vectors = int(bool(layer.attrs.get("scale", True))) + int(bool(layer.attrs.get("center", True)))
        vectors += int(bool(layer.attrs.get("input_bias", False)))
        stats = layer.attrs.get("stats", "none")
        if stats not in STATS:
            raise RuleError(f"stats must be 'buffers', 'params' or 'none', not {stats!r}")
        terms = [Term(f"{vectors}*{text}", vectors * n)] if vectors else []
        if stats == "params":
            terms.append(Term(f"2*{text} (moving mean, variance)", 2 * n, trainable=False))
        terms = terms or [Term("0", 0)]
        tracked = int(bool(layer.attrs.get("tracks_batches", False)))
        if stats == "buffers" and 2 * n + tracked:
            terms.append(Term(f"2*{text}" + ("+1" if tracked else ""), 2 * n + tracked, False, buffer=True))
        return ParamCount.of(*terms)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [first_input(layer)]

    def macs(self, layer: Layer) -> int:
        return static_numel(first_input(layer), "normalised input size")

    def describe(self, layer: Layer) -> str:
        return self.features(layer)[1]

    def reason(self, change: Change) -> str | None:
        """Running statistics as parameters, buffers or not at all: one layer, two counting conventions."""
        if change.attr != "stats":
            return None
        return (f"{change.this} {_stats_words(change.old)}, {change.other} {_stats_words(change.new)}: the same "
                "layer under two counting conventions")

    def statistics_shape(self, layer: Layer, context: SaveContext) -> Shape | None:
        """Shape of the saved mean (and 1/std); None when none are saved."""
        n, _ = self.features(layer)
        return (n,) if context.training else None

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        if not (requires_grad(layer) or trains_weights(layer)):
            return []
        saved = [saved_input()]
        stats = self.statistics_shape(layer, context)
        if stats is not None:
            dtype = self.statistics_dtype(dtype_of(layer), context)
            saved += [new_tensor("mean", stats, dtype), new_tensor("1/std", stats, dtype)]
        return saved

    def statistics_dtype(self, dtype: str, context: SaveContext) -> str:
        """float32 for half-precision inputs (batch norm everywhere, the others on CUDA); PyTorch's CPU
        layer and group norms keep them in the input's dtype."""
        return opmath(dtype)


def _stats_words(stats: Any) -> str:
    return STATS.get(stats, STATS["none"])


class InstanceNormRule(NormRule):
    """InstanceNorm: like BatchNorm, but PyTorch defaults to no affine and no running stats."""

    kind = "instance_norm"
    statistics = {"stats": "params"}
    columns = FEATURE_COLUMNS

    def statistics_shape(self, layer: Layer, context: SaveContext) -> Shape | None:
        """PyTorch runs it as a batch norm over N*C channels: statistics per sample and channel."""
        n, _ = self.features(layer)
        batch = first_input(layer)[0]
        return (static(batch, "batch size") * n,)


class GroupNormRule(NormRule):
    """GroupNorm: gamma, beta per channel; num_channels must divide by num_groups."""

    kind = "group_norm"
    columns = {"out_channels": "num_channels", "in_channels": "num_channels"}
    aliases = ("groupnorm",)

    def statistics_dtype(self, dtype: str, context: SaveContext) -> str:
        return dtype if context.device == "cpu" else opmath(dtype)

    def features(self, layer: Layer) -> tuple[int, str]:
        channels, groups = int(attr(layer, "num_channels")), int(attr(layer, "num_groups"))
        if groups < 1 or channels % groups:
            raise RuleError(f"num_channels {channels} must divide by num_groups {groups}")
        return channels, str(channels)

    def statistics_shape(self, layer: Layer, context: SaveContext) -> Shape | None:
        batch = first_input(layer)[0]
        return (static(batch, "batch size"), int(attr(layer, "num_groups")))


class LayerNormRule(NormRule):
    """LayerNorm: gamma, beta over the normalised trailing shape."""

    kind = "layer_norm"
    aliases: ClassVar[tuple[str, ...]] = ("layernorm", "layernormalization")

    def features(self, layer: Layer) -> tuple[int, str]:
        shape = tuple(int(d) for d in attr(layer, "normalized_shape"))
        if layer.input_shapes and len(first_input(layer)) >= len(shape):
            seen = first_input(layer)[len(first_input(layer)) - len(shape) :]
            if all(isinstance(d, int) for d in seen) and tuple(seen) != shape:
                raise RuleError(f"input's trailing dims {tuple(seen)} differ from normalized_shape {shape}")
        return math.prod(shape), product_text(shape)

    def statistics_dtype(self, dtype: str, context: SaveContext) -> str:
        return dtype if context.device == "cpu" else opmath(dtype)

    def statistics_shape(self, layer: Layer, context: SaveContext) -> Shape | None:
        """One mean and 1/std per normalised row: the input's leading dims, then 1 per normalised dim."""
        rank = len(attr(layer, "normalized_shape"))
        shape = first_input(layer)
        return (*shape[: len(shape) - rank], *(1 for _ in range(rank)))


class RMSNormRule(LayerNormRule):
    """RMSNorm: a scale over the normalised trailing shape (no shift unless center)."""

    kind = "rms_norm"
    aliases = ("rmsnorm",)

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """x * rsqrt(mean(x^2) + eps) [* weight], computed in float32 (both PyTorch's and transformers')."""
        if not (requires_grad(layer) or trains_weights(layer)):
            return []
        shape, dtype = first_input(layer), dtype_of(layer)
        wide = opmath(dtype)
        stats = self.statistics_shape(layer, context) or ()
        saved = [saved_input() if wide == dtype else new_tensor(f"input as {wide}", shape, wide),
                 new_tensor("1/rms", stats, wide)]
        if layer.attrs.get("scale", True) and trains_weights(layer):  # the weight's product keeps its factor
            saved.append(new_tensor("normalised" if wide == dtype else f"normalised, cast back to {dtype}", shape, dtype))
        return saved


for _rule in (InstanceNormRule(), GroupNormRule(), LayerNormRule(), RMSNormRule()):
    register(_rule)
