"""What a rule says about its layers besides the math: how attribute values are written in sentences.
The changed attribute a rule's `reason` words is an `auditor.rules.change.Change`; how an exporter folds
the layer into another, an `auditor.rules.folding.Folding`.

The explainer (`auditor.explain`) and the diff's convention passes (`auditor.diff`) read these; the
wording of a layer family's own conventions lives with its rule (BatchNorm's statistics in `norm`).
"""

from __future__ import annotations

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


__all__ = ["contrast", "show"]
