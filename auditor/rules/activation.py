"""Activations with learned parameters (PReLU); weight-free activations live in `pointwise`.

prelu: num_parameters (PyTorch: 1 or the channel count), or shared_axes (Keras: the input axes,
counted without the batch axis from 1, along which one alpha is shared; the others get one each), with
first_axis 0 when axis 0 is no batch axis and the slope varies along it too (an ONNX PRelu's slope of
the input's full shape).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from auditor.ir import Layer, Shape
from auditor.rules.base import ParamCount, Rule, RuleError, Term, first_input, product_text, static
from auditor.rules.registry import register
from auditor.rules.saved import requires_grad, saved_input, trains_weights

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


class PReLURule(Rule):
    """One learned negative slope per channel (or per input position not shared)."""

    kind = "prelu"
    perturbable = ("num_parameters",)

    def count(self, layer: Layer) -> ParamCount:
        if layer.attrs.get("num_parameters") is not None:
            n = int(layer.attrs["num_parameters"])
            return ParamCount.of(Term(str(n), n))
        if "shared_axes" not in layer.attrs:
            raise RuleError(f"prelu {layer.path!r} needs num_parameters or shared_axes")
        start = int(layer.attrs.get("first_axis", 1))  # 0: the slope also varies along axis 0 (ONNX, no batch)
        per_sample = first_input(layer)[start:]
        shared = {int(a) for a in layer.attrs["shared_axes"] or ()}
        dims = [1 if axis in shared else static(d, "PReLU input dim") for axis, d in enumerate(per_sample, start=start)]
        return ParamCount.of(Term(product_text(dims), math.prod(dims)))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [first_input(layer)]

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The input (both gradients need it; the slopes are parameters)."""
        return [saved_input()] if requires_grad(layer) or trains_weights(layer) else []


register(PReLURule())
