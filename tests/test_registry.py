"""The rule registry: the public extension API, duplicate registration, and the built-in kinds."""

from __future__ import annotations

import pytest

from auditor import Layer, ModelIR, ParamCount, ParamTensor, Rule, Status, audit_ir
from auditor.rules import DuplicateRuleError, get_rule, kinds, register, unregister


class ScaleRule(Rule):
    """A user's layer: one learned scale per channel."""

    kind = "test_scale"

    def count(self, layer: Layer) -> ParamCount:
        n = layer.attrs["channels"]
        return ParamCount(n, n, f"{n} = {n:,}")

    def metrics(self, layer: Layer) -> dict[str, int]:
        return {"connections": layer.attrs["channels"] * 2}


@pytest.fixture
def scale_rule():
    rule = register(ScaleRule())
    yield rule
    unregister("test_scale")


def test_a_user_rule_verifies_a_user_layer(scale_rule):
    layer = Layer("s", "test_scale", "user.Scale", {"channels": 6}, [(1, 6)], [(1, 6)], [ParamTensor("g", (6,))])
    check = audit_ir(ModelIR("m", "test", "x", [layer])).checks[0]
    assert check.status is Status.OK and check.metrics == {"connections": 12}


def test_registering_a_kind_twice_is_an_error_unless_replacing(scale_rule):
    with pytest.raises(DuplicateRuleError, match="test_scale"):
        register(ScaleRule())
    assert register(ScaleRule(), replace=True) is get_rule("test_scale")


def test_built_in_kinds_cannot_be_shadowed_by_accident():
    with pytest.raises(DuplicateRuleError):
        register(ScaleRule(), kind="conv")


def test_the_foundation_kinds_are_registered():
    required = {"conv", "conv_transpose", "dense", "matmul", "batch_norm", "layer_norm", "pool", "global_pool",
                "activation", "flatten", "reshape", "concat", "elementwise", "resize", "dropout", "softmax"}
    assert required <= set(kinds())
