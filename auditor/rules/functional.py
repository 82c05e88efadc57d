"""Layers called as functions (F.conv2d, F.linear, F.layer_norm ... inside a module's forward).

Each kind is its module form's rule with no parameters: the weights belong to whatever module holds
them (and are counted there); the layer only stands for the operator, so its output shape and MACs
follow exactly the module form's math.  Canonical attrs are the module form's: conv_op and
conv_transpose_op as `auditor.rules.conv` (inputs [x, weight]); linear_op as `dense`; embedding_op
as `embedding`; batch_norm_op, instance_norm_op, group_norm_op, layer_norm_op, rms_norm_op as
`auditor.rules.norm` and `batch_norm` (a functional norm keeps no statistics of its own: stats "none").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditor.ir import Layer
from auditor.rules.base import NO_PARAMS, ParamCount, Rule
from auditor.rules.batch_norm import BatchNormRule
from auditor.rules.conv import ConvRule, ConvTransposeRule
from auditor.rules.dense import DenseRule
from auditor.rules.embedding import EmbeddingRule
from auditor.rules.norm import GroupNormRule, InstanceNormRule, LayerNormRule, RMSNormRule
from auditor.rules.registry import register
from auditor.rules.saved import fact, requires_grad, saved_input
from auditor.rules.saved_sources import INPUT

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


def _operands_saved(self: Rule, layer: Layer, context: SaveContext) -> list[SavedTensor]:
    """conv(x, w): x when w needs a gradient, w (unless it is a parameter) when x needs one."""
    saved = [saved_input("input", 0)] if requires_grad(layer, 1) else []
    weight = fact(layer, INPUT, 1)
    if requires_grad(layer, 0) and len(layer.input_shapes) > 1 and not (weight and weight.model_state):
        saved.append(saved_input("weight", 1))
    return saved


def operator_rule(base: type[Rule], kind: str) -> Rule:
    """`base`'s shape and MAC math under `kind`, owning no parameters.  The operator is no layer of a
    table or a diff family of its own (a diff pairs the module forms)."""

    def count(self: Rule, layer: Layer) -> ParamCount:
        return NO_PARAMS

    body: dict[str, Any] = {
        "kind": kind, "count": count, "family": "", "columns": {}, "aliases": (), "table_prefixes": (),
        "__doc__": f"{base.__name__}'s shape and MACs for the functional form; parameters are owned elsewhere.",
    }
    if issubclass(base, ConvRule):  # its weight is an operand (inputs [x, weight])
        body["saved_for_backward"] = _operands_saved
    operator: Rule = type(f"{base.__name__.removesuffix('Rule')}OpRule", (base,), body)()
    return operator


OPERATOR_FORMS: dict[str, type[Rule]] = {
    "conv_op": ConvRule,
    "conv_transpose_op": ConvTransposeRule,
    "linear_op": DenseRule,
    "embedding_op": EmbeddingRule,
    "batch_norm_op": BatchNormRule,
    "instance_norm_op": InstanceNormRule,
    "group_norm_op": GroupNormRule,
    "layer_norm_op": LayerNormRule,
    "rms_norm_op": RMSNormRule,
}
"""Functional kind -> the rule of its module form."""

for _kind, _base in OPERATOR_FORMS.items():
    register(operator_rule(_base, _kind))
