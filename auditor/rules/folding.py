"""How an exporter folds a layer into the one before it (BatchNorm into a conv): a rule's `folding`, read by
the explainer and the diff's convention passes.  Its own module so only a rule that folds creates the class."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Folding:
    """An exporter may fold this layer into the layer before it (BatchNorm into a conv)."""

    into: str
    """The family of the layer it folds into ("conv")."""
    code: str
    """The finding code of the fold ("bn_folded")."""
    name: str
    """How sentences name the folded layer ("BatchNorm")."""
    bias_attr: str
    """The attribute whose value is the bias the receiving layer gains ("num_features")."""


__all__ = ["Folding"]
