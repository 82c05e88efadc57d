"""One changed attribute, as the explainer (`auditor.explain`) hands it to a rule's `reason` to put into words.

Apart from `auditor.rules.meta` because only an explanation builds one: the rule modules name it in type
hints alone, so an audit never creates the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.ir import Layer
from auditor.rules.meta import contrast


@dataclass(frozen=True)
class Change:
    """One attribute of `layer` set to the other side's value: what a rule's `reason` puts into words."""

    layer: Layer
    attr: str
    old: Any
    new: Any
    delta: int = 0
    """The other side's count minus this layer's."""
    this: str = "the model"
    other: str = "your table"
    table: bool = True
    """The other side is a hand-written table (not a second model)."""
    after_flatten: bool = False
    """The layer reads the output of a flatten (its input size comes from a feature map)."""

    def contrast(self, mine: str, theirs: str) -> str:
        """"2x2, not 3x3" against a table; "2x2 in left, 3x3 in right" between models."""
        return contrast(mine, theirs, self.this, self.other, self.table)


__all__ = ["Change"]
