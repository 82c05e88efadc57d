"""Contrastive image-text heads (CLIP's): cosine similarity of every image with every text.

contrastive_head attrs: learned_scale (one learned logit temperature, CLIP's logit_scale).
Inputs: image embeddings (images, width) and text embeddings (texts, width).  Outputs: image-text
logits (images, texts) and their transpose.  MACs: the similarity product images*texts*width, plus one
per element for normalising each embedding to unit length.
"""

from __future__ import annotations

from auditor.ir import Layer, Shape
from auditor.rules.base import NO_PARAMS, ParamCount, Rule, RuleError, Term, static, static_numel
from auditor.rules.registry import register


def _embeddings(layer: Layer) -> tuple[Shape, Shape]:
    if len(layer.input_shapes) < 2 or any(len(s) != 2 for s in layer.input_shapes[:2]):
        raise RuleError(f"contrastive head {layer.path!r} needs (images, width) and (texts, width) inputs")
    image, text = layer.input_shapes[:2]
    if isinstance(image[1], int) and isinstance(text[1], int) and image[1] != text[1]:
        raise RuleError(f"image width {image[1]} differs from text width {text[1]}")
    return image, text


class ContrastiveHeadRule(Rule):
    """A learned temperature (1 parameter) and the image x text similarity matrix."""

    kind = "contrastive_head"
    perturbable = ("learned_scale",)

    def count(self, layer: Layer) -> ParamCount:
        if not layer.attrs.get("learned_scale", True):
            return NO_PARAMS
        return ParamCount.of(Term("1 (logit scale)", 1))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        image, text = _embeddings(layer)
        return [(image[0], text[0]), (text[0], image[0])]

    def macs(self, layer: Layer) -> int:
        image, text = _embeddings(layer)
        width = static(image[1], "embedding width")
        images, texts = static(image[0], "image count"), static(text[0], "text count")
        return images * texts * width + static_numel(image, "image embeddings") + static_numel(text, "text embeddings")


register(ContrastiveHeadRule())
