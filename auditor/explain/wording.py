"""How a difference reads: who says what (`Wording`), counts with their formulas, and the sentence for
one changed attribute.  The general attributes (kernel, bias, channels) are worded here; a layer
family's own conventions are worded by its rule (`Rule.reason`: BatchNorm statistics, RNN bias vectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.ir import Layer
from auditor.rules import ParamCount, Rule, fmt
from auditor.rules.change import Change
from auditor.rules.meta import contrast, show


@dataclass(frozen=True)
class Wording:
    """How to speak about the two sides of one row."""

    subject: str
    """Printed first: "conv2d_10 (your conv2d_11)" or "features.3 / conv2"."""
    other_says: str
    """"your table expects" / "right (model.onnx) has"."""
    this_has: str
    """"the layer has" / "left (model.keras) has"."""
    this: str = "the model"
    other: str = "your table"
    table: bool = True

    def contrast(self, mine: str, theirs: str) -> str:
        """"2x2, not 3x3" against a table; "2x2 in left, 3x3 in right" between models."""
        return contrast(mine, theirs, self.this, self.other, self.table)

    def change(self, layer: Layer, attr: str, new: Any, delta: int, after_flatten: bool = False) -> Change:
        """One changed attribute of `layer`, as a rule's `reason` receives it."""
        return Change(layer, attr, layer.attrs.get(attr), new, delta, self.this, self.other, self.table,
                      after_flatten)

    def cause(self, rule: Rule, change: Change) -> str:
        """The short phrase a reconciliation groups by: "kernel_size 2x2 not 3x3", "bias in left only"."""
        code = rule.finding_code(change.layer, change.attr, change.after_flatten)
        old, new = change.old, change.new
        if isinstance(old, bool) or isinstance(new, bool):
            mine = bool(old) and not new
            if self.table:
                return f"{code} in {self.this}, not in {self.other}" if mine else f"{code} in {self.other}, not in {self.this}"
            return f"{code} in {self.this if mine else self.other} only"
        if self.table:
            return f"{code} {show(old)} not {show(new)}"
        return f"{code} {show(old)} in {self.this}, {show(new)} in {self.other}"


def count_text(count: ParamCount) -> str:
    """"2,097,664 = (2*2*1024+1)*512": the number first, then how the rule gets it."""
    return count.text


def reason(rule: Rule, change: Change) -> str:
    """Why the numbers differ, in words, for one changed attribute: the rule's words, else the general ones."""
    own = rule.reason(change)
    if own is not None:
        return own
    attr, old, new, c = change.attr, change.old, change.new, change.contrast
    if attr == "kernel_size":
        return f"its kernel is {c(show(old), show(new))}"
    if attr in ("use_bias", "out_bias"):
        return _bias_reason(change)
    if attr == "in_channels":
        return f"its input has {c(str(old), str(new))} channels (a concatenation's channels counted or forgotten?)"
    if attr in ("out_channels", "out_features"):
        return f"it has {c(str(old), str(new))} outputs"
    return f"its {attr} is {c(show(old), show(new))}"


def _bias_reason(change: Change) -> str:
    size = fmt(abs(change.delta))
    if change.old and not change.new:
        if change.table:
            return f"the layer has a bias (+{size}) that your table leaves out: it counts weights only"
        return f"{change.this} has a bias (+{size}), {change.other} has none"
    if change.table:
        return f"your table counts a bias (+{size}) the layer does not have"
    return f"{change.this} has no bias, {change.other} has one (+{size})"


__all__ = ["Wording", "count_text", "reason", "show"]
