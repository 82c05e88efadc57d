"""Rule metadata: the layer facts the diff, the explainer, tables and snapshots read from the rules.

Families, counting conventions, table columns and spellings, finding codes and convention wording are
stated by each rule (not listed elsewhere); a user's rule states them the same way and is heard.
"""

from __future__ import annotations

from collections import Counter

import pytest
from support import diff_models as M

from auditor import Layer, ModelIR, ParamCount, ParamTensor, Rule, audit_ir
from auditor.diff import diff_audits
from auditor.expect import canonical_kind
from auditor.explain import Wording, explain_count
from auditor.rules import RULES, get_rule
from auditor.rules.base import Term
from auditor.rules.change import Change
from auditor.rules.folding import Folding
from auditor.testing.snapshot import layer_row


def test_every_rules_metadata_is_consistent():
    families = {rule.family_name for _, rule in RULES.items()}
    spellings = Counter(alias for _, rule in RULES.items() for alias in rule.aliases)
    assert [alias for alias, n in spellings.items() if n > 1] == []
    for kind, rule in RULES.items():
        assert rule.kind == kind
        assert set(rule.choices) <= set(rule.perturbable), kind
        for attr, neutral in rule.conventions.items():
            assert attr in rule.perturbable and neutral in rule.choices.get(attr, (neutral,)), kind
        if rule.folding is not None:
            assert rule.folding.into in families
        assert not (rule.flattens and rule.transparent)


def test_the_families_the_diff_pairs_by():
    assert {k: get_rule(k).family_name for k in ("conv", "conv_transpose", "separable_conv", "dense", "matmul",
                                                 "conv_op", "batch_norm")} == {
        "conv": "conv", "conv_transpose": "conv", "separable_conv": "conv", "dense": "dense", "matmul": "dense",
        "conv_op": "conv_op", "batch_norm": "batch_norm"}


def test_batchnorm_wording_lives_in_the_batchnorm_rule():
    bn = M.bn("bn", 64, stats="buffers")
    words = get_rule("batch_norm").reason(Change(bn, "stats", "buffers", "params", 128, "torch", "keras", False))
    assert words == ("torch keeps the running mean and variance as buffers (PyTorch: 2*C parameters + 2*C buffers), "
                     "keras counts the moving mean and variance as non-trainable parameters (Keras: 4*C): the same "
                     "layer under two counting conventions")
    assert get_rule("batch_norm").reason(Change(bn, "scale", True, False)) is None


def test_formulas_are_rendered_from_terms_and_read_back_without_parsing():
    count = ParamCount.of(Term("2*64", 128), Term("2*64 (moving mean, variance)", 128, trainable=False),
                          Term("2*64+1", 129, trainable=False, buffer=True))
    assert (count.params, count.trainable, count.buffers) == (256, 128, 129)
    assert count.formula == "2*64 + 2*64 (moving mean, variance) = 256  (+ buffers 2*64+1 = 129)"
    assert count.text == "256 = 2*64 + 2*64 (moving mean, variance)  (+ buffers 2*64+1 = 129)"
    written = ParamCount(9, 9, "x = 9 (as my rule puts it)")
    assert written.text == written.formula


class GainRule(Rule):
    """A user's layer: `gain` learned factors per channel; states its facts like a built-in rule."""

    kind = "test_gain"
    family = "scale"
    perturbable = ("gain",)
    columns = {"out_channels": "channels"}
    aliases = ("gainlayer",)
    codes = {"gain": "gain_convention"}

    def count(self, layer: Layer) -> ParamCount:
        n = layer.attrs["channels"] * layer.attrs["gain"]
        return ParamCount.of(Term(f"{layer.attrs['channels']}*{layer.attrs['gain']}", n))

    def reason(self, change: Change) -> str | None:
        return f"gain {change.contrast(str(change.old), str(change.new))}: one framework keeps a factor per gate"


@pytest.fixture
def gain_rules():
    rules = RULES.copy()
    rules.register("test_gain", GainRule())
    return rules


def _gain(path: str, gain: int) -> Layer:
    return Layer(path, "test_gain", "user.Gain", {"channels": 4, "gain": gain}, [], [], [ParamTensor("g", (4 * gain,))])


def test_a_users_rule_metadata_reaches_tables_snapshots_and_explanations(gain_rules):
    assert canonical_kind("GainLayer", gain_rules) == "test_gain" and canonical_kind("GainLayer") == "gainlayer"
    check = audit_ir(ModelIR("m", "test", "x", [_gain("g", 2)]), gain_rules).checks[0]
    assert layer_row(check, gain_rules)["out_channels"] == "4" and layer_row(check)["out_channels"] == ""
    found = explain_count(_gain("g", 2), 8, 12, {}, Wording("g", "right has", "left has", "left", "right", table=False),
                          rules=gain_rules)
    assert [f.code for f in found.findings] == ["gain_convention"]
    assert found.findings[0].message.endswith("gain 2 in left, 3 in right: one framework keeps a factor per gate")


def test_a_diff_explains_with_the_rules_its_audits_used(gain_rules):
    left = audit_ir(ModelIR("m", "keras", "x", [_gain("g", 2)]), gain_rules)
    right = audit_ir(ModelIR("m", "torch", "x", [_gain("g", 3)]), gain_rules)
    (row,) = diff_audits(left, right).rows
    assert [f.code for f in row.findings] == ["gain_convention"]


class AffineRule(Rule):
    """A user's per-channel affine layer that exporters fold into the conv before it, as BatchNorm."""

    kind = "test_affine"
    folding = Folding(into="conv", code="affine_folded", name="Affine", bias_attr="channels")

    def count(self, layer: Layer) -> ParamCount:
        return ParamCount.of(Term(f"2*{layer.attrs['channels']}", 2 * layer.attrs["channels"]))


def test_an_exporters_fold_is_recognised_from_the_rules_folding_metadata():
    rules = RULES.copy()
    rules.register("test_affine", AffineRule())
    affine = Layer("aff", "test_affine", "user.Affine", {"channels": 16}, [], [], [ParamTensor("ab", (2, 16))])
    source = audit_ir(M.model("net", [M.conv("conv", 3, 16, 3, bias=False), affine], "torch"), rules)
    export = audit_ir(M.model("net.onnx", [M.conv("/conv/Conv", 3, 16, 3)], "onnx"), rules)
    rows = diff_audits(source, export).rows
    assert [[f.code for f in row.findings] for row in rows] == [["affine_folded"], ["affine_folded"]]
    assert "the ONNX exporter folded it into conv" in rows[1].findings[0].message
