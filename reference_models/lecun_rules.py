"""Rules for the layers of LeNet-5 as LeCun et al. (1998) define them, written as a user would.

This module uses only the public extension API (`auditor.rules`: `Rule`, `register`): it is the worked
example of auditing layers nn-auditor does not know.  Importing it registers four kinds:

- lecun_conv: a C-layer; attrs in_channels, out_channels, kernel_size (kh, kw), table (for each output
  map, the input maps it reads; C1 and C5 read all of them, C3 follows table I), layout.
- lecun_subsampling: an S-layer; attrs channels, window (2, 2), layout.  Each unit adds its 2x2 window,
  multiplies by one trainable coefficient and adds one trainable bias per map.
- lecun_full: F6; attrs in_features, out_features.
- lecun_rbf: the Euclidean RBF output; attrs in_features, out_features.  Its centres are fixed, so
  they are non-trainable parameters.

Every rule also reports LeCun's "connections" (`metrics`): the links into each unit, bias included,
times the number of units of one sample.  MACs: multiply-accumulates of one forward pass; an
S-unit costs one multiply (its window sum is additions), an RBF unit one per input ((x - w)^2).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from auditor.ir import Layer, Shape
from auditor.rules import ParamCount, Rule, RuleError, fmt, register


def _attr(layer: Layer, name: str) -> Any:
    """A required attribute; RuleError naming it when the adapter did not provide it."""
    if name not in layer.attrs:
        raise RuleError(f"{layer.kind} layer {layer.path!r} has no attribute {name!r}")
    return layer.attrs[name]


def _int(layer: Layer, name: str) -> int:
    return int(_attr(layer, name))


def _pair(layer: Layer, name: str) -> tuple[int, int]:
    """A (height, width) attribute such as kernel_size or window."""
    first, second = _attr(layer, name)
    return int(first), int(second)


def _maps(layer: Layer) -> tuple[Shape, int, tuple[int, int]]:
    """(leading dims, channels, (height, width)) of the layer's 4-D input, for either layout."""
    if not layer.input_shapes or len(layer.input_shapes[0]) != 4:
        raise RuleError(f"{layer.kind} layer {layer.path!r} needs a 4-D input shape")
    n, *rest = layer.input_shapes[0]
    if _attr(layer, "layout") == "channels_last":
        h, w, c = rest
    else:
        c, h, w = rest
    if not all(isinstance(d, int) for d in (c, h, w)):
        raise RuleError(f"{layer.path}: LeNet layers need static map sizes, got {layer.input_shapes[0]}")
    return (n,), int(c), (int(h), int(w))


def _shape(layer: Layer, lead: Shape, channels: int, size: tuple[int, int]) -> Shape:
    if layer.attrs.get("layout") == "channels_last":
        return (*lead, *size, channels)
    return (*lead, channels, *size)


def _batch(lead: Shape) -> int:
    return lead[0] if isinstance(lead[0], int) else 1


class LeCunConvRule(Rule):
    """A C-layer: output map j has one k*k kernel per input map it reads, plus one bias."""

    kind = "lecun_conv"
    perturbable = ("kernel_size", "out_channels")

    def _table(self, layer: Layer) -> list[tuple[int, ...]]:
        cin, cout = _int(layer, "in_channels"), _int(layer, "out_channels")
        table = layer.attrs.get("table") or [tuple(range(cin))] * cout
        if len(table) != cout or any(not 0 <= i < cin for row in table for i in row):
            raise RuleError(f"{layer.path}: connection table does not fit {cin} -> {cout} maps")
        return [tuple(row) for row in table]

    def _taps(self, layer: Layer) -> int:
        return math.prod(_pair(layer, "kernel_size"))

    def count(self, layer: Layer) -> ParamCount:
        taps, table = self._taps(layer), self._table(layer)
        total = sum(taps * len(row) + 1 for row in table)
        k = "*".join(str(d) for d in _pair(layer, "kernel_size"))
        groups = sorted(Counter(len(row) for row in table).items())
        text = " + ".join(f"({k}*{size}+1)*{maps}" for size, maps in groups)
        return ParamCount(total, total, f"{text} = {fmt(total)}")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        lead, _, (h, w) = _maps(layer)
        kh, kw = _pair(layer, "kernel_size")
        return [_shape(layer, lead, _int(layer, "out_channels"), (h - kh + 1, w - kw + 1))]

    def _units(self, layer: Layer) -> int:
        """Output positions of one map."""
        _, _, (h, w) = _maps(layer)
        kh, kw = _pair(layer, "kernel_size")
        return (h - kh + 1) * (w - kw + 1)

    def macs(self, layer: Layer) -> int:
        links = sum(self._taps(layer) * len(row) for row in self._table(layer))
        return _batch(_maps(layer)[0]) * self._units(layer) * links

    def metrics(self, layer: Layer) -> dict[str, int]:
        return {"connections": self.count(layer).params * self._units(layer)}

    def describe(self, layer: Layer) -> str:
        k = "x".join(str(d) for d in layer.attrs.get("kernel_size", ()))
        partial = layer.attrs.get("table") and any(
            len(r) != layer.attrs.get("in_channels") for r in layer.attrs["table"]
        )
        text = f"{k}, {layer.attrs.get('in_channels')}->{layer.attrs.get('out_channels')}"
        return text + (", partial table" if partial else "")


class LeCunSubsamplingRule(Rule):
    """An S-layer: per map one coefficient and one bias; output = window sum * coefficient + bias."""

    kind = "lecun_subsampling"

    def count(self, layer: Layer) -> ParamCount:
        c = _int(layer, "channels")
        return ParamCount(2 * c, 2 * c, f"(1+1)*{c} = {fmt(2 * c)}")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        lead, c, (h, w) = _maps(layer)
        wh, ww = _pair(layer, "window")
        return [_shape(layer, lead, c, (h // wh, w // ww))]

    def _units(self, layer: Layer) -> int:
        _, c, (h, w) = _maps(layer)
        wh, ww = _pair(layer, "window")
        return c * (h // wh) * (w // ww)

    def macs(self, layer: Layer) -> int:
        return _batch(_maps(layer)[0]) * self._units(layer)

    def metrics(self, layer: Layer) -> dict[str, int]:
        wh, ww = _pair(layer, "window")
        return {"connections": (wh * ww + 1) * self._units(layer)}

    def describe(self, layer: Layer) -> str:
        return "x".join(str(d) for d in layer.attrs.get("window", ())) + " trainable subsampling"


class LeCunFullRule(Rule):
    """F6: every unit reads every input, plus a bias: (in+1)*out."""

    kind = "lecun_full"

    def _features(self, layer: Layer) -> tuple[int, int]:
        return _int(layer, "in_features"), _int(layer, "out_features")

    def count(self, layer: Layer) -> ParamCount:
        n, m = self._features(layer)
        return ParamCount((n + 1) * m, (n + 1) * m, f"({n}+1)*{m} = {fmt((n + 1) * m)}")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        _, m = self._features(layer)
        return [(*layer.input_shapes[0][:-1], m)] if layer.input_shapes else []

    def macs(self, layer: Layer) -> int:
        n, m = self._features(layer)
        lead = layer.input_shapes[0][:-1] if layer.input_shapes else ()
        return math.prod(d if isinstance(d, int) else 1 for d in lead) * n * m

    def metrics(self, layer: Layer) -> dict[str, int]:
        return {"connections": self.count(layer).params}

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('in_features')}->{layer.attrs.get('out_features')}"


class LeCunRBFRule(LeCunFullRule):
    """Euclidean RBF output: y_i = sum_j (x_j - w_ij)^2 with fixed centres w (non-trainable)."""

    kind = "lecun_rbf"

    def count(self, layer: Layer) -> ParamCount:
        n, m = self._features(layer)
        return ParamCount(n * m, 0, f"{n}*{m} = {fmt(n * m)} fixed centres")

    def metrics(self, layer: Layer) -> dict[str, int]:
        n, m = self._features(layer)
        return {"connections": n * m}


RULES = (LeCunConvRule(), LeCunSubsamplingRule(), LeCunFullRule(), LeCunRBFRule())
for _rule in RULES:
    register(_rule)
