"""Embedding tables: one vector of embedding_dim per token id; a lookup costs no MACs.

Canonical attrs: num_embeddings, embedding_dim.  Output shape: the index shape plus embedding_dim.
"""

from __future__ import annotations

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, Term, attr, first_input
from auditor.rules.registry import register
from auditor.rules.saved import SaveContext, SavedTensor, saved_input, trains_weights


class EmbeddingRule(Rule):
    """num_embeddings*embedding_dim parameters."""

    kind = "embedding"
    perturbable = ("num_embeddings", "embedding_dim")
    columns = {"out_channels": "embedding_dim"}

    def count(self, layer: Layer) -> ParamCount:
        n, d = int(attr(layer, "num_embeddings")), int(attr(layer, "embedding_dim"))
        return ParamCount.of(Term(f"{n}*{d}", n * d))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [(*first_input(layer), int(attr(layer, "embedding_dim")))]

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('num_embeddings')}x{layer.attrs.get('embedding_dim')}"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The token ids, to scatter the gradient into the table's rows."""
        return [saved_input("token ids")] if trains_weights(layer) else []


register(EmbeddingRule())
