"""A table row's hyper-parameter columns read as a layer's attributes, and checked directly.

Which column states which attribute is the rule's fact (`Rule.columns`); padding is compared in the
spatial vocabulary of `auditor.rules.spatial`.
"""

from __future__ import annotations

from typing import Any

from auditor.explain.search import Rules, same_value
from auditor.explain.wording import Wording, show
from auditor.findings import Finding
from auditor.ir import Layer
from auditor.rules import RULES
from auditor.rules.spatial import same_padding


def expand(mine: Any, stated: Any) -> Any:
    """A stated value in the layer's own form: "3" for a 2-D kernel becomes (3, 3)."""
    if isinstance(mine, (tuple, list)) and isinstance(stated, (tuple, list)) and len(stated) == 1:
        return tuple(stated) * len(mine)
    return stated


def stated_attrs(layer: Layer, hyper: dict[str, Any], rules: Rules = RULES) -> dict[str, Any]:
    """A table row's hyper-parameter columns as this layer's canonical attributes."""
    rule = rules.get(layer.kind)
    mapping = rule.columns if rule is not None else {}
    out = {}
    for column, value in hyper.items():
        attr = mapping.get(column)
        if attr is not None and attr in layer.attrs:
            out[attr] = expand(layer.attrs[attr], value)
    return out


def compare_hyper(layer: Layer, hyper: dict[str, Any], words: Wording, rules: Rules = RULES) -> list[Finding]:
    """Direct checks of stated hyper-parameters that do not change the count (or did not explain it)."""
    rule = rules.get(layer.kind)
    findings = []
    for attr, value in stated_attrs(layer, hyper, rules).items():
        if not same_value(layer.attrs[attr], value):
            code = rule.codes.get(attr, attr) if rule is not None else attr
            findings.append(Finding(
                code, f"{words.subject}: your table says {attr} {show(value)} but the layer's is {show(layer.attrs[attr])}"))
    padding = hyper.get("padding")
    if padding is not None and "padding" in layer.attrs and not same_padding(layer.attrs["padding"], padding):
        findings.append(
            Finding("padding", f"{words.subject}: your table says padding {show(padding)} but the layer's is "
                    f"{show(layer.attrs['padding'])}")
        )
    shape = hyper.get("output_shape")
    if shape is not None and layer.output_shapes and not _same_shape(layer.output_shapes[0], shape):
        findings.append(
            Finding("output_shape", f"{words.subject}: your table says the output is {show(shape)} but the layer "
                    f"outputs {show(layer.output_shapes[0])}")
        )
    return findings


def _same_shape(mine: tuple[Any, ...], stated: tuple[int, ...]) -> bool:
    """A stated shape without the batch dim, in either channel position, matches the layer's output."""
    options = [tuple(mine), tuple(mine[1:])]
    if len(mine) > 2:
        body = tuple(mine[1:])
        options += [(body[-1], *body[:-1]), (*body[1:], body[0])]
    return tuple(stated) in options


__all__ = ["compare_hyper", "expand", "stated_attrs"]
