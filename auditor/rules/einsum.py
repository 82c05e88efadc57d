"""Einsum: a contraction written as an equation ("bsd,dhk->bshk"), some operands of which may be weights.

einsum attrs: equation (no spaces), weight_operands (indices of the operands that are parameters);
input_shapes: every operand's shape, weights included.  A weight's size is recomputed from the sizes
its labels have in the *other* operands and the output (d from the input, h and k from the output), so
a weight that does not fit the equation's other operands is a mismatch.  MACs: the product of the
sizes of all labels (one multiply-accumulate per term of the contraction), for two operands.
"""

from __future__ import annotations

import math

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, attr, fmt, static
from auditor.rules.registry import register


def parse(equation: str) -> tuple[list[str], str | None]:
    """(labels of each operand, output labels or None when implicit); RuleError for what is not supported."""
    inputs, _, output = equation.partition("->")
    terms = inputs.split(",")
    if "." in equation:
        raise RuleError(f"equation {equation!r} uses an ellipsis, which this rule does not expand")
    return terms, (output if "->" in equation else None)


def _sizes(terms: list[str], shapes: list[Shape], skip: set[int]) -> dict[str, Dim]:
    """Label -> size as seen in the operands not in `skip` (the first known size wins)."""
    sizes: dict[str, Dim] = {}
    for index, (labels, shape) in enumerate(zip(terms, shapes)):
        if index in skip:
            continue
        if len(labels) != len(shape):
            raise RuleError(f"operand {index} {labels!r} has rank {len(shape)}")
        for label, dim in zip(labels, shape):
            known = sizes.get(label)
            if known is None or (isinstance(dim, int) and not isinstance(known, int)):
                sizes[label] = dim
    return sizes


class EinsumRule(Rule):
    """Parameters: each weight operand's labels sized by the other operands and the output."""

    kind = "einsum"

    def _setup(self, layer: Layer) -> tuple[list[str], str | None, list[Shape]]:
        shapes = layer.input_shapes
        terms, output = parse(str(attr(layer, "equation")))
        if len(shapes) != len(terms):
            raise RuleError(f"einsum {layer.path!r}: the shapes of its operands are not all known")
        return terms, output, shapes

    def count(self, layer: Layer) -> ParamCount:
        weights = tuple(int(i) for i in attr(layer, "weight_operands"))
        if not weights:
            return ParamCount(0, 0, "0")
        terms, output, shapes = self._setup(layer)
        seen = _sizes(terms, shapes, set(weights))
        if output is not None and layer.output_shapes and len(layer.output_shapes[0]) == len(output):
            for label, dim in zip(output, layer.output_shapes[0]):
                if isinstance(dim, int):
                    seen.setdefault(label, dim)
        total, parts = 0, []
        for index in weights:
            dims = [seen.get(label, shapes[index][pos]) for pos, label in enumerate(terms[index])]
            sized = [static(d, f"einsum label {label!r}") for d, label in zip(dims, terms[index])]
            total += math.prod(sized)
            parts.append("*".join(str(d) for d in sized))
        return ParamCount(total, total, f"{' + '.join(parts)} = {fmt(total)}")

    def output_shapes(self, layer: Layer) -> list[Shape] | None:
        terms, output, shapes = self._setup(layer)
        sizes = _sizes(terms, shapes, set())
        if output is None:
            counts = {label: "".join(terms).count(label) for label in sizes}
            output = "".join(sorted(label for label, n in counts.items() if n == 1))
        return [tuple(sizes[label] for label in output)]

    def macs(self, layer: Layer) -> int:
        terms, _, shapes = self._setup(layer)
        if len(terms) != 2:
            raise RuleError("MACs are counted for two-operand einsums only")
        sizes = _sizes(terms, shapes, set())
        return math.prod(static(d, f"einsum label {label!r}") for label, d in sizes.items())


register(EinsumRule())
