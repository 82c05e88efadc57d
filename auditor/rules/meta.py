"""What a rule says about its layers besides the math: how a changed attribute reads, how an exporter
folds the layer into another, how attribute values are written in sentences.  The changed attribute a
rule's `reason` words is an `auditor.rules.change.Change`.

The explainer (`auditor.explain`) and the diff's convention passes (`auditor.diff`) read these; the
wording of a layer family's own conventions lives with its rule (BatchNorm's statistics in `norm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def show(value: Any) -> str:
    """An attribute value as a sentence writes it: yes/no, 3x3, or the value itself."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return str(value)


def contrast(mine: str, theirs: str, this: str, other: str, table: bool) -> str:
    if table:
        return f"{mine}, not {theirs}"
    return f"{mine} in {this}, {theirs} in {other}"


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


__all__ = ["Folding", "contrast", "show"]
