"""Rotary position embeddings (RoPE): no parameters.

rotary_embedding (the cos/sin table, transformers' LlamaRotaryEmbedding): attrs rotary_dim (the number
of rotated channels per head), freq_buffers (how many buffers of rotary_dim/2 inverse frequencies the
implementation keeps: transformers keeps inv_freq and original_inv_freq).  Output: cos and sin of shape
(*position_ids.shape, rotary_dim) for inputs (x, position_ids).  MACs: the positions x frequencies
outer product, numel(position_ids)*rotary_dim/2; cos/sin and the concatenation are not counted.
rotary_apply (a layer that builds the table and rotates its input, keras_hub's RotaryEmbedding): attrs
sequence_axis, feature_axis (of the input; every feature is rotated).  No weights, no buffers (the
frequencies are recomputed).  Output: the input's shape.  MACs: the table, length*features/2, plus
x*cos and rotate(x)*sin, two per input element.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, first_input, static, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import dtype_of, new_tensor

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


def _half(layer: Layer) -> int:
    dim = int(attr(layer, "rotary_dim"))
    if dim < 2 or dim % 2:
        raise RuleError(f"rotary_dim must be a positive even number, not {dim}")
    return dim // 2


def table_macs(positions: int, rotary_dim: int) -> int:
    """The positions x inverse-frequencies outer product: one multiply per position and frequency."""
    return positions * (rotary_dim // 2)


def _positions(layer: Layer) -> Shape:
    if len(layer.input_shapes) < 2:
        raise RuleError(f"rotary embedding {layer.path!r} needs the (x, position_ids) input shapes")
    return layer.input_shapes[1]


class RotaryEmbeddingRule(Rule):
    """freq_buffers * rotary_dim/2 buffer elements, no parameters."""

    kind = "rotary_embedding"
    perturbable = ("rotary_dim",)

    def count(self, layer: Layer) -> ParamCount:
        half, copies = _half(layer), int(layer.attrs.get("freq_buffers", 1))
        return ParamCount.of(Term(f"{copies}*{2 * half}/2", copies * half, trainable=False, buffer=True))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [(*_positions(layer), 2 * _half(layer))]

    def macs(self, layer: Layer) -> int:
        return table_macs(static_numel(_positions(layer), "position ids"), 2 * _half(layer))

    def describe(self, layer: Layer) -> str:
        return f"rotary {layer.attrs.get('rotary_dim')}"

    def position_table(self, layer: Layer) -> int:
        """One inverse-frequency buffer, rotary_dim/2 (transformers also keeps a copy, original_inv_freq)."""
        return _half(layer)

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """Nothing: the table needs no gradient (the rotation's products keep cos and sin)."""
        return []


class RotaryApplyRule(Rule):
    """Rotates its input by position: output shape = input shape, no weights."""

    kind = "rotary_apply"

    def _axes(self, layer: Layer) -> tuple[Shape, int, int]:
        shape = first_input(layer)
        rank = len(shape)
        sequence, feature = (int(attr(layer, name)) for name in ("sequence_axis", "feature_axis"))
        if not (-rank <= sequence < rank and -rank <= feature < rank) or sequence % rank == feature % rank:
            raise RuleError(f"sequence_axis {sequence} and feature_axis {feature} do not fit an input of rank {rank}")
        return shape, sequence % rank, feature % rank

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape, _, feature = self._axes(layer)
        if isinstance(shape[feature], int) and shape[feature] % 2:
            raise RuleError(f"rotary features must be even, not {shape[feature]}")
        return [shape]

    def macs(self, layer: Layer) -> int:
        shape, sequence, feature = self._axes(layer)
        length, features = static(shape[sequence], "sequence length"), static(shape[feature], "rotary features")
        return table_macs(length, features) + 2 * static_numel(shape, "rotated input size")

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The cos and sin tables the two products keep (one row per position, broadcast over the rest)."""
        shape, sequence, feature = self._axes(layer)
        table = tuple(d if axis in (sequence, feature) else 1 for axis, d in enumerate(shape))
        dtype = dtype_of(layer)
        return [new_tensor("cos table", table, dtype), new_tensor("sin table", table, dtype)]


register(RotaryEmbeddingRule())
register(RotaryApplyRule())
