"""Embedding tables: one vector of embedding_dim per token id (or position); a lookup costs no MACs.

embedding attrs: num_embeddings, embedding_dim, and optionally reverse_projection (True when the layer
also owns an untied embedding_dim x num_embeddings matrix for its reverse, logits call: Keras
ReversibleEmbedding(tie_weights=False)).  Output: the index shape plus embedding_dim.
position_embedding (learned absolute positions added to a (..., length, embedding_dim) input):
num_embeddings (the longest sequence) x embedding_dim; output: the input's shape.
class_token (learned tokens a block prepends, ViT's class token): tokens x width parameters, plus
position_ids stored position indices (CLIP keeps them as a non-trainable weight).
embed_layer_norm (onnxruntime's fused BERT embeddings): num_embeddings, embedding_dim, max_positions and
segments (table rows), plus the layer norm's gamma and beta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, first_input, static_numel
from auditor.rules.registry import register
from auditor.rules.saved import saved_input, trains_weights

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


class EmbeddingRule(Rule):
    """num_embeddings*embedding_dim parameters (twice when an untied reverse projection is owned)."""

    kind = "embedding"
    embedding = "token"
    perturbable: ClassVar[tuple[str, ...]] = ("num_embeddings", "embedding_dim", "reverse_projection")
    columns = {"out_channels": "embedding_dim"}

    def count(self, layer: Layer) -> ParamCount:
        n, d = int(attr(layer, "num_embeddings")), int(attr(layer, "embedding_dim"))
        terms = [Term(f"{n}*{d}", n * d)]
        if layer.attrs.get("reverse_projection", False):
            terms.append(Term(f"{d}*{n} (reverse projection)", d * n))
        return ParamCount.of(*terms)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [(*first_input(layer), int(attr(layer, "embedding_dim")))]

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('num_embeddings')}x{layer.attrs.get('embedding_dim')}"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The token ids, to scatter the gradient into the table's rows."""
        return [saved_input("token ids")] if trains_weights(layer) else []


class PositionEmbeddingRule(EmbeddingRule):
    """num_embeddings (positions) * embedding_dim parameters; the output has the input's shape."""

    kind = "position_embedding"
    embedding = "position"
    perturbable = ("num_embeddings", "embedding_dim")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        positions, width = int(attr(layer, "num_embeddings")), int(attr(layer, "embedding_dim"))
        if len(shape) < 2:
            raise RuleError(f"position embedding input of rank {len(shape)}; expected (..., length, features)")
        if isinstance(shape[-1], int) and shape[-1] != width:
            raise RuleError(f"input has {shape[-1]} features but embedding_dim={width}")
        if isinstance(shape[-2], int) and shape[-2] > positions:
            raise RuleError(f"the input's {shape[-2]} positions exceed the table's {positions}")
        return [shape]

    def macs(self, layer: Layer) -> int:
        """A lookup costs nothing, but a sequence longer than the table cannot run: its MACs are unknown."""
        self.output_shapes(layer)
        return 0

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """Nothing: the positions are a slice of the table, whatever the input holds (only its shape is read)."""
        return []


class ClassTokenRule(Rule):
    """tokens*width trainable parameters (+ position_ids non-trainable indices)."""

    kind = "class_token"
    perturbable = ("tokens", "width")

    def count(self, layer: Layer) -> ParamCount:
        tokens, width = int(layer.attrs.get("tokens", 1)), int(attr(layer, "width"))
        positions = int(layer.attrs.get("position_ids", 0))
        terms = [Term(f"{tokens}*{width}", tokens * width)]
        if positions:
            terms.append(Term(f"{positions} (position ids)", positions, trainable=False))
        return ParamCount.of(*terms)

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('tokens', 1)}x{layer.attrs.get('width')}"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """Nothing: the token is concatenated, and a concatenation's gradient is a slice."""
        return []


for _rule in (EmbeddingRule(), PositionEmbeddingRule(), ClassTokenRule()):
    register(_rule)


class EmbedLayerNormRule(Rule):
    """onnxruntime's EmbedLayerNormalization: word, position and segment tables of one width, and the
    layer norm's gamma and beta: (num_embeddings + max_positions + segments + 2) * embedding_dim."""

    kind = "embed_layer_norm"
    perturbable = ("num_embeddings", "embedding_dim", "max_positions", "segments")
    family = "embedding"

    def count(self, layer: Layer) -> ParamCount:
        n, d = int(attr(layer, "num_embeddings")), int(attr(layer, "embedding_dim"))
        p, s = int(attr(layer, "max_positions")), int(attr(layer, "segments"))
        rows = "+".join(str(r) for r in (n, p, s) if r)
        return ParamCount.of(Term(f"({rows})*{d}", (n + p + s) * d), Term(f"2*{d} (gamma, beta)", 2 * d))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [(*first_input(layer), int(attr(layer, "embedding_dim")))]

    def macs(self, layer: Layer) -> int:
        """The layer norm over the summed embeddings: one per output element."""
        return static_numel(first_input(layer), "token ids") * int(attr(layer, "embedding_dim"))


register(EmbedLayerNormRule())
