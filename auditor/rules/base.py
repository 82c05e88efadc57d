"""The rule contract: one class per layer family, the single home of that family's math.

A rule reads a `Layer`'s canonical attrs and input shapes and recomputes, independently of the
framework, what the layer should own (`count`), what it should output (`output_shapes`) and what it
costs (`macs`).  Counting convention for every rule: MACs are multiply-accumulates of one forward
pass; bias additions, activations and pooling comparisons are not counted; FLOPs = 2 x MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from auditor.ir import Dim, Layer, Shape


class RuleError(ValueError):
    """The layer cannot be recomputed: an attribute is missing or inconsistent (one-line reason)."""


class SymbolicShape(RuleError):
    """A dim the rule needs is symbolic, so the value cannot be resolved to a number."""


@dataclass(frozen=True)
class ParamCount:
    """What a rule says a layer owns, with the formula a person would write."""

    params: int
    """Everything the framework calls a parameter (trainable + non-trainable)."""
    trainable: int
    formula: str
    """e.g. "(3*3*32+1)*32 = 9,248"."""
    buffers: int = 0
    """State the framework keeps outside its parameters (PyTorch BatchNorm running stats)."""

    @property
    def non_trainable(self) -> int:
        return self.params - self.trainable


NO_PARAMS = ParamCount(0, 0, "0")


def per_output_count(per_output: int, per_output_text: str, outputs: int, use_bias: bool) -> ParamCount:
    """Weights per output unit, times the units, plus one bias each: "(3*3*32+1)*32 = 9,248" or "800*10 = 8,000"."""
    if use_bias:
        total = (per_output + 1) * outputs
        return ParamCount(total, total, f"({per_output_text}+1)*{outputs} = {fmt(total)}")
    total = per_output * outputs
    return ParamCount(total, total, f"{per_output_text}*{outputs} = {fmt(total)}")


def fmt(n: int) -> str:
    """Thousands-separated integer, as people write counts: 9,248."""
    return f"{n:,}"


def product_text(factors: Any) -> str:
    """"3*3*32" for (3, 3, 32); a lone factor prints bare."""
    return "*".join(str(f) for f in factors)


def attr(layer: Layer, name: str) -> Any:
    """A required canonical attribute; a clear RuleError when the adapter did not provide it."""
    try:
        return layer.attrs[name]
    except KeyError:
        raise RuleError(
            f"{layer.kind} layer {layer.path!r} has no attribute {name!r}"
        ) from None


def static(dim: Dim, what: str) -> int:
    """`dim` as an int; SymbolicShape naming `what` when it is symbolic."""
    if isinstance(dim, int):
        return dim
    raise SymbolicShape(f"{what} is symbolic ({dim!r})")


def static_numel(shape: Shape, what: str) -> int:
    return math.prod(static(d, what) for d in shape)


def first_input(layer: Layer) -> Shape:
    if not layer.input_shapes:
        raise RuleError(f"{layer.kind} layer {layer.path!r} has no input shape")
    return layer.input_shapes[0]


def first_output(layer: Layer) -> Shape:
    """The framework's output shape, else the rule's own; RuleError when neither is known."""
    if layer.output_shapes:
        return layer.output_shapes[0]
    raise RuleError(f"{layer.kind} layer {layer.path!r} has no output shape")


class Rule:
    """Base rule: no parameters, shape unknown, zero MACs.  Subclasses override what they know."""

    kind: ClassVar[str] = ""
    perturbable: ClassVar[tuple[str, ...]] = ()
    """Attributes the explainer may vary to reproduce another count (kernel_size, use_bias, ...)."""
    allocates_output: ClassVar[bool] = True
    """False for views and in-place ops, which add no activation memory."""

    def count(self, layer: Layer) -> ParamCount:
        return NO_PARAMS

    def output_shapes(self, layer: Layer) -> list[Shape] | None:
        """The analytic output shapes, or None when this rule does not compute them."""
        return None

    def macs(self, layer: Layer) -> int:
        return 0

    def describe(self, layer: Layer) -> str:
        """A short hyper-parameter summary for reports ("3x3, 32->32, s1")."""
        return ""

    def metrics(self, layer: Layer) -> dict[str, int]:
        """Extra named per-layer figures the report shows as columns (e.g. LeNet's "connections")."""
        return {}
