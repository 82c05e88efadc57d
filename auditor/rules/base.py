"""The rule contract: one class per layer family, the single home of that family's math.

A rule reads a `Layer`'s canonical attrs and input shapes and recomputes, independently of the
framework, what the layer should own (`count`), what it should output (`output_shapes`) and what it
costs (`macs`).  Counting convention for every rule: MACs are multiply-accumulates of one forward
pass; bias additions, activations and pooling comparisons are not counted; FLOPs = 2 x MACs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from auditor.ir import Dim, Layer, Shape
from auditor.records import record

if TYPE_CHECKING:
    from auditor.rules.change import Change
    from auditor.rules.folding import Folding
    from auditor.rules.saved_records import CachedKeysValues, SaveContext, SavedTensor


class RuleError(ValueError):
    """The layer cannot be recomputed: an attribute is missing or inconsistent (one-line reason)."""


class SymbolicShape(RuleError):
    """A dim the rule needs is symbolic, so the value cannot be resolved to a number."""


@record(frozen=True)
class Term:
    """One addend of a count as a person writes it: "(3*3*32+1)*32", worth 9,248."""

    text: str
    value: int
    trainable: bool = True
    buffer: bool = False
    """State kept outside the parameters (PyTorch running statistics)."""


@record(frozen=True)
class ParamCount:
    """What a rule says a layer owns, with the formula a person would write.

    Built-in rules give their `terms` (`ParamCount.of(...)`), so the formula is rendered from them and
    the explainer reads them instead of the text; a user's rule may give a formula string alone.
    """

    params: int
    """Everything the framework calls a parameter (trainable + non-trainable)."""
    trainable: int
    formula: str
    """e.g. "(3*3*32+1)*32 = 9,248"."""
    buffers: int = 0
    """State the framework keeps outside its parameters (PyTorch BatchNorm running stats)."""
    terms: tuple[Term, ...] = ()
    active: int | None = None
    """Parameters one token uses, when that is fewer than `params` (a mixture of experts' top-k); None: all."""

    @classmethod
    def of(cls, *terms: Term) -> ParamCount:
        """The count the terms add up to, its formula written from them: "a + b = N  (+ buffers c = M)"."""
        counted = [t for t in terms if not t.buffer]
        params = sum(t.value for t in counted)
        buffers = sum(t.value for t in terms if t.buffer)
        trainable = sum(t.value for t in counted if t.trainable)
        return cls(params, trainable, _expression(counted, params) + _buffer_text(terms, buffers), buffers, terms)

    @property
    def non_trainable(self) -> int:
        return self.params - self.trainable

    @property
    def text(self) -> str:
        """The number first, then how the rule gets it: "2,097,664 = (2*2*1024+1)*512"."""
        counted = [t for t in self.terms if not t.buffer]
        if not counted:
            return self.formula
        expression = " + ".join(t.text for t in counted)
        return f"{fmt(self.params)} = {expression}{_buffer_text(self.terms, self.buffers)}"


def _expression(counted: list[Term], params: int) -> str:
    return f"{' + '.join(t.text for t in counted)} = {fmt(params)}" if counted else "0"


def _buffer_text(terms: tuple[Term, ...], buffers: int) -> str:
    held = [t.text for t in terms if t.buffer]
    return f"  (+ buffers {' + '.join(held)} = {fmt(buffers)})" if held else ""


NO_PARAMS = ParamCount(0, 0, "0")


def per_output_count(per_output: int, per_output_text: str, outputs: int, use_bias: bool) -> ParamCount:
    """Weights per output unit, times the units, plus one bias each: "(3*3*32+1)*32 = 9,248" or "800*10 = 8,000"."""
    if use_bias:
        return ParamCount.of(Term(f"({per_output_text}+1)*{outputs}", (per_output + 1) * outputs))
    return ParamCount.of(Term(f"{per_output_text}*{outputs}", per_output * outputs))


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


class Rule:
    """Base rule: no parameters, shape unknown, zero MACs.  Subclasses override what they know.

    Besides the math, a rule states its layer family's facts that diffs and explanations use (the
    class attributes below), so no list of kinds lives outside `auditor.rules`.
    """

    kind: ClassVar[str] = ""
    family: ClassVar[str] = ""
    """Kinds of one family pair up in a diff (conv, conv_transpose, separable_conv are "conv"); "": the kind."""
    perturbable: ClassVar[tuple[str, ...]] = ()
    """Attributes the explainer may vary to reproduce another count (kernel_size, use_bias, ...)."""
    choices: ClassVar[Mapping[str, tuple[Any, ...]]] = {}
    """The few values a perturbable attribute can take, tried in this order (BatchNorm's stats)."""
    conventions: ClassVar[Mapping[str, Any]] = {}
    """Attributes that are a framework's counting convention, and the neutral value a diff compares at."""
    columns: ClassVar[Mapping[str, str]] = {}
    """Expectation-table column -> the attribute it states ("out_channels" -> "num_features")."""
    codes: ClassVar[Mapping[str, str]] = {"use_bias": "bias"}
    """Changed attribute -> stable finding code; an attribute not listed is its own code."""
    aliases: ClassVar[tuple[str, ...]] = ()
    """How hand-written tables spell this kind ("conv2d", "convolution"), lower case."""
    table_prefixes: ClassVar[tuple[str, ...]] = ()
    """Layer-type cells that are a prefix and a number in tables ("conv3", "fc6")."""
    flattens: ClassVar[bool] = False
    """Turns a feature map into a feature vector (a dense layer after it reads a flattened map)."""
    reads_flattened: ClassVar[bool] = False
    """Reads a feature vector that may be a flattened map: adapters record the map's shape (`flattened_from`)."""
    transparent: ClassVar[bool] = False
    """Weight-free and shape-keeping: looked through when finding what feeds a layer."""
    folding: ClassVar[Folding | None] = None
    """How an exporter folds this layer into the one before it, if exporters do."""
    biases: ClassVar[Mapping[str, Any]] = {}
    """Attribute values that drop the layer's bias terms: its count under "weights only, no biases"."""
    statistics: ClassVar[Mapping[str, Any]] = {}
    """Attribute values under which its running statistics count as parameters (Keras's BatchNorm 4*C)."""
    embedding: ClassVar[str] = ""
    """A table of learned vectors looked up by index: "token", "position" ("" for other layers).  An
    "embedding" layer that is not the model's token table (not tied to the head, not the largest) reads
    positions or types.  Kaplan's non-embedding counts leave all of them out."""
    head: ClassVar[bool] = False
    """Can be the model's output head (a classifier, an LM head) when it is the last layer with parameters."""
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

    def merged_towers(self, layer: Layer) -> dict[str, Any]:
        """Attribute changes that count a layer split into towers (a grouped conv) as one; {} for other layers."""
        return {}

    def position_table(self, layer: Layer) -> int:
        """Elements of one position table among its buffers (rotary inverse frequencies), which some
        published totals count as parameters; 0 for a layer without one."""
        return 0

    def metrics(self, layer: Layer) -> dict[str, int]:
        """Extra named per-layer figures the report shows as columns (e.g. LeNet's "connections")."""
        return {}

    @property
    def family_name(self) -> str:
        return self.family or self.kind

    def finding_code(self, layer: Layer, attr: str, after_flatten: bool = False) -> str:
        """The stable code of a finding that `attr` differs."""
        return self.codes.get(attr, attr)

    def reason(self, change: Change) -> str | None:
        """Why the counts differ when `change.attr` does, in words; None: the explainer's general wording."""
        return None

    def candidates(self, layer: Layer, attr: str) -> list[Any] | None:
        """Values worth trying for `attr` when the other side does not state one; None: the general search."""
        return None

    def search_step(self, layer: Layer, attr: str) -> int:
        """Integer attributes are searched in multiples of this (channels of a grouped conv: the groups)."""
        return 1

    def along(self, layer: Layer, changes: dict[str, Any]) -> dict[str, Any]:
        """`changes` plus the attributes that change with them, only so the formula reads as a person's."""
        return changes

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        """The tensors this layer keeps for its backward pass (see `auditor.rules.saved`); None = unknown."""
        return None

    def cached_keys_values(self, layer: Layer) -> CachedKeysValues | None:
        """What the layer keeps between generated tokens (a causal attention's keys and values); None: nothing."""
        return None
