"""Element-wise layers: activations, softmax, dropout and arithmetic.  No parameters, zero MACs.

Shapes: the input's (arithmetic: numpy broadcasting of all inputs).  Canonical attrs: op (the
function, lower case: "relu", "gelu", "mul" ...); dropout: p, channelwise (Dropout2d drops whole
channels).  What each keeps for backward follows PyTorch autograd: ReLU, sigmoid, tanh and softmax keep
their output; GELU, SiLU and most other activations their input; dropout its mask (one byte per
element from CUDA's fused kernel, the input's dtype from the CPU kernel, which multiplies by a noise
tensor); a product keeps each factor the other factor's gradient needs; a sum keeps nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.ir import Layer, Shape
from auditor.rules.base import RuleError, first_input
from auditor.rules.registry import register
from auditor.rules.reshape import PassThroughRule
from auditor.rules.saved import dtype_of, new_tensor, requires_grad, saved_input, saved_output
from auditor.rules.shapes import broadcast

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor

KEEP_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softmax", "log_softmax", "logsoftmax", "softmin", "exp", "rsqrt",
                         "sqrt"})
KEEP_INPUT = frozenset({
    "gelu", "gelu_tanh", "silu", "swish", "mish", "hardswish", "hardsigmoid", "hardtanh", "relu6", "leakyrelu",
    "leaky_relu", "elu", "selu", "celu", "softplus", "threshold", "glu", "hardshrink", "softshrink",
    "pow", "log", "sin", "cos", "abs", "square",
})
PYTHON_COMPOSITES = {
    "gelu_tanh_python": ("input (for x**3)", "tanh(...)", "1 + tanh(...)", "0.5*x"),
    "quick_gelu_python": ("input", "sigmoid(1.702*x)"),
}
"""Activations written as Python arithmetic (transformers' gelu_new): each intermediate autograd keeps."""
ADDITIVE = frozenset({"add", "sub", "neg", "subtract", "sum", "mean"})


class ActivationRule(PassThroughRule):
    """A weight-free activation; `op` names it."""

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        op = str(layer.attrs.get("op", "")).lower()
        if not requires_grad(layer):
            return []
        if op in KEEP_OUTPUT or layer.kind == "softmax":
            return [saved_output()]
        if op in KEEP_INPUT:
            return [saved_input()]
        if op in PYTHON_COMPOSITES:
            first, *rest = PYTHON_COMPOSITES[op]
            shape, dtype = first_input(layer), dtype_of(layer)
            return [saved_input(first), *(new_tensor(name, shape, dtype) for name in rest)]
        return None


class DropoutRule(PassThroughRule):
    """Dropout: in training with p > 0 it keeps the mask; in eval it is the identity."""

    kind = "dropout"

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        p = layer.attrs.get("p")
        if p is None or layer.attrs.get("alpha"):
            return None
        if not context.training or float(p) == 0.0 or not requires_grad(layer):
            return []
        shape = first_input(layer)
        if layer.attrs.get("channelwise") and len(shape) > 2:
            shape = (*shape[:2], *(1 for _ in shape[2:]))
        dtype = "bool" if context.device == "cuda" else dtype_of(layer)
        return [new_tensor("mask", shape, dtype)]


class ElementwiseRule(PassThroughRule):
    """Element-wise arithmetic of several inputs (add, mul, ...): numpy broadcasting."""

    kind = "elementwise"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        if not layer.input_shapes:
            raise RuleError(f"elementwise {layer.path!r} has no inputs")
        return [broadcast(*layer.input_shapes)]

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        op = str(layer.attrs.get("op", "")).lower()
        n = len(layer.input_shapes)
        if op in ADDITIVE:
            return []
        if op in ("mul", "multiply") and n == 2:
            return [saved_input(f"factor {i}", i) for i, other in ((0, 1), (1, 0)) if requires_grad(layer, other)]
        if op in ("div", "true_divide", "divide") and n == 2:
            saved = [saved_input("divisor", 1)] if requires_grad(layer, 0) or requires_grad(layer, 1) else []
            return saved + ([saved_input("dividend", 0)] if requires_grad(layer, 1) else [])
        return None


register(ActivationRule("activation"))
register(ActivationRule("softmax"))
register(DropoutRule("dropout"))
register(ElementwiseRule("elementwise"))
