"""Einsum: a contraction written as an equation ("bsd,dhk->bshk"), on activations or with weight operands.

einsum attrs: equation ("..." for broadcast dims; no "->" means numpy's implicit output: every label used
once, in alphabetical order); weight_operands (indices of the operands that are parameters, as an ONNX
graph's constant initializers; absent or () for `torch.einsum` on activations).  input_shapes: every
operand's shape, weights included.
Parameters: each weight's size recomputed from the sizes its labels have in the *other* operands and the
output (d from the input, h and k from the output), so a weight that does not fit the equation is a mismatch.
MACs: a contraction of two operands costs one multiply-accumulate per combination of all their labels
(the product of every label's size); more operands are contracted left to right, each intermediate
keeping the labels still needed; a single operand (a transpose, trace or sum) costs 0.
`einsum_macs` is the one home of this math (Keras EinsumDense counts its MACs with it too).
"""

from __future__ import annotations

import math
from collections import Counter

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, SymbolicShape, attr, fmt, static
from auditor.rules.registry import register

_ELLIPSIS_LABELS = [chr(0x100 + i) for i in range(64)]
"""Stand-in labels for the dims "..." covers (outside a-zA-Z, so they never clash)."""


def _expand(term: str, rank: int | None, width: int) -> str:
    """One operand's labels with "..." replaced by `width` stand-ins (the rightmost `width` ones)."""
    if "..." not in term:
        return term
    head, tail = term.split("...")
    covered = width if rank is None else rank - len(head) - len(tail)
    if covered < 0:
        raise RuleError(f"einsum term {term!r} has more labels than its operand's {rank} dims")
    return head + "".join(_ELLIPSIS_LABELS[width - covered : width]) + tail


def parse_equation(equation: str, shapes: list[Shape]) -> tuple[list[str], str]:
    """(labels of each operand, labels of the output), ellipses expanded."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuleError(f"einsum {equation!r} names {len(terms)} operands but has {len(shapes)} input shapes")
    width = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    inputs = [_expand(t, len(s), width) for t, s in zip(terms, shapes)]
    for labels, shape in zip(inputs, shapes):
        if len(labels) != len(shape):
            raise RuleError(f"einsum term {labels!r} does not match an operand of rank {len(shape)}")
    if arrow:
        return inputs, _expand(rhs, None, width)
    counts = Counter("".join(inputs))
    once = sorted(label for label, n in counts.items() if n == 1 and label not in _ELLIPSIS_LABELS)
    return inputs, "".join(_ELLIPSIS_LABELS[:width]) + "".join(once)


def label_sizes(inputs: list[str], shapes: list[Shape], weights: tuple[int, ...] = ()) -> dict[str, Dim]:
    """Each label's size; a dim of 1 broadcasts against the others and a known size beats a symbolic one.
    The `weights` operands only size labels no other operand has (so a weight that does not fit is
    caught by the parameter count, not taken as the truth)."""
    sizes: dict[str, Dim] = {}
    for index, (labels, shape) in enumerate(zip(inputs, shapes)):
        if index not in weights:
            for label, dim in zip(labels, shape):
                _merge(sizes, label, dim)
    for index in weights:
        for label, dim in zip(inputs[index], shapes[index]):
            sizes.setdefault(label, dim)
    return sizes


def _merge(sizes: dict[str, Dim], label: str, dim: Dim) -> None:
    seen = sizes.get(label)
    if seen is None or seen == 1 or (isinstance(dim, int) and dim != 1 and not isinstance(seen, int)):
        sizes[label] = dim
    elif dim != 1 and isinstance(dim, int) and isinstance(seen, int) and dim != seen:
        raise RuleError(f"einsum label {label!r} has sizes {seen} and {dim}")


def _product(labels: set[str] | str, sizes: dict[str, Dim]) -> int:
    dims = [sizes[label] for label in labels]
    if not all(isinstance(d, int) for d in dims):
        raise SymbolicShape(f"einsum dims {dims} are symbolic")
    return math.prod(dims)  # type: ignore[arg-type]


def einsum_macs(equation: str, shapes: list[Shape], weights: tuple[int, ...] = ()) -> int:
    """MACs of the contraction (see the module docstring for the convention)."""
    inputs, output = parse_equation(equation, shapes)
    sizes = label_sizes(inputs, shapes, weights)
    if len(inputs) < 2:
        return 0
    total, current = 0, set(inputs[0])
    for index, labels in enumerate(inputs[1:], start=1):
        together = current | set(labels)
        total += _product(together, sizes)
        needed = set(output).union(*inputs[index + 1 :])
        current = together & needed
    return total


def einsum_output_shape(equation: str, shapes: list[Shape], weights: tuple[int, ...] = ()) -> Shape:
    inputs, output = parse_equation(equation, shapes)
    sizes = label_sizes(inputs, shapes, weights)
    missing = [label for label in output if label not in sizes]
    if missing:
        raise RuleError(f"einsum output labels {missing} appear in no operand")
    return tuple(sizes[label] for label in output)


def _weights(layer: Layer) -> tuple[int, ...]:
    return tuple(int(i) for i in layer.attrs.get("weight_operands", ()))


class EinsumRule(Rule):
    """Output shape and MACs from the equation; parameters for the operands that are weights."""

    kind = "einsum"

    def count(self, layer: Layer) -> ParamCount:
        weights = _weights(layer)
        if not weights:
            return ParamCount(0, 0, "0")
        inputs, output = parse_equation(str(attr(layer, "equation")), layer.input_shapes)
        seen = label_sizes([t for i, t in enumerate(inputs) if i not in weights],
                           [s for i, s in enumerate(layer.input_shapes) if i not in weights])
        if layer.output_shapes and len(layer.output_shapes[0]) == len(output):
            for label, dim in zip(output, layer.output_shapes[0]):
                if isinstance(dim, int):
                    seen.setdefault(label, dim)
        total, parts = 0, []
        for index in weights:
            own = layer.input_shapes[index]
            sized = [static(seen.get(label, own[pos]), f"einsum label {label!r}")
                     for pos, label in enumerate(inputs[index])]
            total += math.prod(sized)
            parts.append("*".join(str(d) for d in sized))
        return ParamCount(total, total, f"{' + '.join(parts)} = {fmt(total)}")

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [einsum_output_shape(str(attr(layer, "equation")), layer.input_shapes, _weights(layer))]

    def macs(self, layer: Layer) -> int:
        return einsum_macs(str(attr(layer, "equation")), layer.input_shapes, _weights(layer))

    def describe(self, layer: Layer) -> str:
        return str(layer.attrs.get("equation", ""))


register(EinsumRule())
