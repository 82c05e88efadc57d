"""Rotary position embeddings (RoPE): no parameters, a table of inverse frequencies as buffers.

Canonical attrs: rotary_dim (the number of rotated channels per head), freq_buffers (how many
buffers of rotary_dim/2 inverse frequencies the implementation keeps: transformers keeps inv_freq
and original_inv_freq).  Output: cos and sin of shape (*position_ids.shape, rotary_dim) for inputs
(x, position_ids).  MACs: the positions x frequencies outer product, numel(position_ids)*rotary_dim/2;
cos/sin and the concatenation are not counted.
"""

from __future__ import annotations

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import SaveContext, SavedTensor


def _half(layer: Layer) -> int:
    dim = int(attr(layer, "rotary_dim"))
    if dim < 2 or dim % 2:
        raise RuleError(f"rotary_dim must be a positive even number, not {dim}")
    return dim // 2


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
        return static_numel(_positions(layer), "position ids") * _half(layer)

    def describe(self, layer: Layer) -> str:
        return f"rotary {layer.attrs.get('rotary_dim')}"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """Nothing: the table needs no gradient (the rotation's products keep cos and sin)."""
        return []


register(RotaryEmbeddingRule())
