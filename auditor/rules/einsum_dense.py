"""Keras EinsumDense: a dense layer whose kernel, bias and output are read off its einsum equation.

einsum_dense attrs: equation (input,kernel->output, e.g. "bqm,muh->bquh"; "..." at the start of the
input and output terms, or at their end, stands for dims the kernel does not touch), output_shape
(the output's dims after the batch dim and outside "...", as Keras's `output_shape`; None where the
dim comes from the input), bias_axes (the output labels that carry a bias; "" for no bias).
Kernel: one dim per kernel label, the input's size for a label the input has, else the output's.
Bias: the output from its first biased label on, 1 on unbiased labels (Keras's broadcast shape).
Parameters numel(kernel) + numel(bias).  MACs: the einsum rule's `einsum_macs` of the input and the
kernel: one per combination of every label (output, summed and "..." dims), i.e. numel(output) * the
summed dims; bias excluded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import (
    ParamCount,
    Rule,
    RuleError,
    Term,
    attr,
    first_input,
    product_text,
    static_numel,
)
from auditor.rules.einsum import einsum_macs
from auditor.rules.registry import register
from auditor.rules.saved import weighted_inputs

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor

_EQUATION = re.compile(r"(\.\.\.)?([a-zA-Z]+)(\.\.\.)?,([a-zA-Z]+)->(\.\.\.)?([a-zA-Z]+)(\.\.\.)?")


@dataclass(frozen=True)
class EinsumDenseShapes:
    """What an equation, an output_shape and an input shape make of one EinsumDense layer."""

    kernel: Shape
    bias: Shape | None
    output: Shape


@dataclass(frozen=True)
class _Terms:
    inputs: str
    kernel: str
    output: str
    elided: str
    """"" (no "..."), "left" or "right"."""


def _terms(equation: str) -> _Terms:
    match = _EQUATION.fullmatch(equation.replace(" ", ""))
    if match is None:
        raise RuleError(f"einsum equation {equation!r} is not like ab,bc->ac, ...b,bc->...c or ab...,bc->ac...")
    in_left, inputs, in_right, kernel, out_left, output, out_right = match.groups()
    if (in_left, in_right) != (out_left, out_right) or (in_left and in_right):
        raise RuleError(f"einsum equation {equation!r}: '...' must be on the same one side of input and output")
    return _Terms(inputs, kernel, output, "left" if in_left else "right" if in_right else "")


def _label_sizes(terms: _Terms, partial: tuple[Dim | None, ...], input_shape: Shape) -> tuple[dict[str, Dim], Shape]:
    """(each input/output label's size, the "..." dims)."""
    extra = len(input_shape) - len(terms.inputs)
    if extra < 0 or (extra and not terms.elided):
        raise RuleError(f"input of rank {len(input_shape)} does not fit the input term {terms.inputs!r}")
    start = extra if terms.elided == "left" else 0
    sizes: dict[str, Dim] = dict(zip(terms.inputs, input_shape[start:]))
    elided = input_shape[:extra] if terms.elided == "left" else input_shape[len(terms.inputs):]
    given = terms.output if terms.elided == "left" else terms.output[1:]
    if len(partial) != len(given):
        raise RuleError(f"output_shape {partial} has {len(partial)} dims; the output term {terms.output!r} needs {len(given)}")
    if terms.elided != "left" and terms.output[0] not in sizes:
        sizes[terms.output[0]] = input_shape[0]
    for label, dim in zip(given, partial):
        seen = sizes.get(label)
        if dim is None:
            if seen is None:
                raise RuleError(f"output label {label!r} is in neither the input nor output_shape")
        elif isinstance(seen, int) and seen != dim:
            raise RuleError(f"label {label!r} is {seen} in the input but {dim} in output_shape")
        elif seen is None or not isinstance(seen, int):
            sizes[label] = int(dim)
    return sizes, elided


def einsum_dense_shapes(equation: str, output_shape: tuple[Dim | None, ...], bias_axes: str, input_shape: Shape) -> EinsumDenseShapes:
    """Kernel, bias and output shapes of an EinsumDense on `input_shape` (see the module docstring)."""
    terms = _terms(equation)
    sizes, elided = _label_sizes(terms, tuple(output_shape), input_shape)
    missing = [label for label in terms.kernel if label not in sizes]
    if missing:
        raise RuleError(f"kernel labels {missing} are in neither the input nor the output of {equation!r}")
    kernel = tuple(sizes[label] for label in terms.kernel)
    labels = tuple(sizes[label] for label in terms.output)
    output = (*elided, *labels) if terms.elided == "left" else (*labels, *elided)
    return EinsumDenseShapes(kernel, _bias(terms, sizes, bias_axes, len(elided)), output)


def _bias(terms: _Terms, sizes: dict[str, Dim], bias_axes: str, elided: int) -> Shape | None:
    if not bias_axes:
        return None
    stray = [label for label in bias_axes if label not in terms.output]
    if stray:
        raise RuleError(f"bias_axes {bias_axes!r}: {stray} are not output labels of {terms.output!r}")
    first = min(terms.output.index(label) for label in bias_axes)
    shape = tuple(sizes[label] if label in bias_axes else 1 for label in terms.output[first:])
    return (*shape, *(1,) * elided) if terms.elided == "right" else shape


class EinsumDenseRule(Rule):
    """Kernel and bias from the equation; see the module docstring for the convention."""

    kind = "einsum_dense"
    perturbable = ("bias_axes",)
    biases = {"bias_axes": ""}

    def shapes(self, layer: Layer) -> EinsumDenseShapes:
        partial = attr(layer, "output_shape")
        partial = (partial,) if isinstance(partial, int) else tuple(partial)
        return einsum_dense_shapes(str(attr(layer, "equation")), partial, str(layer.attrs.get("bias_axes", "")),
                                   first_input(layer))

    def count(self, layer: Layer) -> ParamCount:
        found = self.shapes(layer)
        terms = [Term(product_text(found.kernel), static_numel(found.kernel, "kernel dim"))]
        if found.bias is not None:
            terms.append(Term(product_text(found.bias), static_numel(found.bias, "bias dim")))
        return ParamCount.of(*terms)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [self.shapes(layer).output]

    def macs(self, layer: Layer) -> int:
        """The einsum rule's count for the input and the kernel (one home for the contraction's math)."""
        return einsum_macs(str(attr(layer, "equation")), [first_input(layer), self.shapes(layer).kernel])

    def describe(self, layer: Layer) -> str:
        return str(layer.attrs.get("equation", ""))

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """As a dense layer: the input, for the kernel's gradient."""
        return weighted_inputs(layer)


register(EinsumDenseRule())
