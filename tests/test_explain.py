"""The explainer: every finding code from one perturbation mechanism, and plain words when nothing fits."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from support import diff_models as M

from auditor.explain import Wording, count_text, count_with, explain_count, perturbations
from auditor.rules import get_rule

TABLE = Wording("layer", "your table expects", "the layer has")
PAIR = Wording("layer", "right has", "left has", "left", "right", table=False)


def explain(layer, target, known=None, words=TABLE, after_flatten=False):
    actual = get_rule(layer.kind).count(layer).params
    return explain_count(layer, actual, target, known or {}, words, after_flatten)


def codes(explanation):
    return [f.code for f in explanation.findings]


def test_kernel_size_from_a_count_alone_names_both_kernels():
    up = M.conv("conv2d_10", 1024, 512, 2)
    found = explain(up, 4_719_104)
    assert codes(found) == ["kernel_size"]
    message = found.findings[0].message
    assert "4,719,104 = (3*3*1024+1)*512" in message and "2,097,664 = (2*2*1024+1)*512" in message
    assert message.endswith("its kernel is 2x2, not 3x3")


def test_a_stated_value_wins_over_other_exact_changes():
    up = M.conv("up", 1024, 512, 2)
    # in_channels=2304 also reproduces 4,719,104; the stated kernel is the one kept
    assert [p.changes for p in perturbations(up, 4_719_104, {"in_channels": 2304})] == [{"in_channels": 2304}]
    assert [p.changes for p in perturbations(up, 4_719_104, {"kernel_size": (3, 3), "out_channels": 512})] == [
        {"kernel_size": (3, 3)}]


def test_bias_both_ways():
    conv = M.conv("c", 128, 256, 3)
    found = explain(conv, 294_912)
    assert codes(found) == ["bias"] and "leaves out" in found.findings[0].message
    assert "+256" in found.findings[0].message
    no_bias = M.conv("c", 128, 256, 3, bias=False)
    assert codes(explain(no_bias, 295_168)) == ["bias"]


def test_in_channels_a_forgotten_concatenation():
    after_concat = M.conv("conv6", 1024, 512, 3)
    found = explain(after_concat, (9 * 512 + 1) * 512)
    assert "in_channels" in codes(found)
    assert any("512 channels" in f.message for f in found.findings)


def test_out_channels():
    found = explain(M.conv("c", 64, 128, 3), (9 * 64 + 1) * 96)
    assert codes(found) == ["out_channels"] and "128, not 96" in found.findings[0].message


def test_groups_from_the_other_model():
    single = M.conv("conv2", 96, 256, 5, layout="channels_first")
    found = explain(single, 307_456, {"groups": 2, "kernel_size": (5, 5)}, PAIR)
    assert codes(found) == ["groups"]
    assert "(5*5*96/2+1)*256" in found.findings[0].message and "groups=1 in left, 2 in right" in found.findings[0].message


def test_dense_input_after_a_flatten():
    fc1 = M.dense("fc1", 400, 120, flattened_from=(16, 5, 5))
    found = explain(fc1, (576 + 1) * 120, after_flatten=True)
    assert codes(found) == ["dense_input"]
    assert "16*6*6" in found.findings[0].message and "5x5, not 6x6" in found.findings[0].message
    plain = M.dense("fc", 100, 10)
    assert codes(explain(plain, 201 * 10)) == ["in_channels"]


def test_bn_convention():
    torch_bn = M.bn("bn", 64, stats="buffers")
    found = explain(torch_bn, 256, {"stats": "params", "scale": True, "center": True}, PAIR)
    assert codes(found) == ["bn_convention"]
    assert "buffers" in found.findings[0].message and "4*C" in found.findings[0].message


def test_a_keras_batchnorm_against_a_hand_tables_2c_is_one_finding_not_two():
    """Issue 17: "buffers" and "no running statistics" both give a table's 2*C; a table cannot tell them apart,
    so the first in the rule's order is the one finding (two would contradict each other)."""
    keras_bn = M.bn("batch_normalization", 16, stats="params")
    found = explain(keras_bn, 2 * 16)
    assert codes(found) == ["bn_convention"]
    assert "keeps the running mean and variance as buffers" in found.findings[0].message
    assert "no running statistics" not in found.findings[0].message


def test_rnn_bias_convention_lstm_and_gru():
    lstm = M.rnn("lstm", "lstm", 16, 32, bias_vectors=2)
    assert codes(explain(lstm, 4 * 32 * (16 + 32 + 1), {"bias_vectors": 1}, PAIR)) == ["rnn_bias_convention"]
    gru = M.rnn("gru", "gru", 32, 12, bias_vectors=1)
    found = explain(gru, 3 * 12 * (32 + 12 + 2), {}, PAIR)
    assert codes(found) == ["rnn_bias_convention"] and "reset_after" in found.findings[0].message


def test_unexplained_says_so_plainly():
    found = explain(M.conv("c", 64, 128, 3), 73_000)
    assert codes(found) == ["unexplained"] and not found.explained
    message = found.findings[0].message
    assert "no change of kernel_size, use_bias, in_channels, out_channels, groups alone reproduces 73,000" in message
    assert "check that row of your table" in message


def test_a_stated_value_that_does_not_fit_is_unexplained_not_guessed():
    # the other side says kernel 3x3 and 512 in/out; nothing among the searched attrs may overrule that
    conv = M.conv("c", 512, 512, 3)
    known = {"kernel_size": (3, 3), "in_channels": 512, "out_channels": 512, "use_bias": True, "groups": 1}
    assert codes(explain(conv, 2_359_000, known, PAIR)) == ["unexplained"]


def test_a_layer_that_cannot_be_recounted_is_unexplained():
    broken = dataclasses.replace(M.conv("c", 8, 8, 3), attrs={"in_channels": 8})
    found = explain_count(broken, 584, 600, {}, TABLE)
    assert codes(found) == ["unexplained"] and "cannot be recounted" in found.findings[0].message


def test_perturbing_never_touches_the_layer():
    conv = M.conv("c", 64, 128, 3)
    before = dict(conv.attrs)
    explain(conv, (9 * 64 + 1) * 96)
    assert conv.attrs == before


CONV_CHANGES = st.sampled_from(["kernel_size", "use_bias", "out_channels", "groups"])


@settings(max_examples=40, deadline=None)
@given(
    cin=st.sampled_from([4, 8, 12, 16, 48]), cout=st.sampled_from([8, 16, 24, 32]), k=st.integers(1, 7),
    change=CONV_CHANGES, data=st.data(),
)
def test_a_single_changed_attribute_is_found_through_the_rule(cin, cout, k, change, data):
    layer = M.conv("c", cin, cout, k)
    if change == "kernel_size":
        new = (data.draw(st.integers(1, 7).filter(lambda v: v != k)),) * 2
    elif change == "use_bias":
        new = False
    elif change == "out_channels":
        new = data.draw(st.integers(1, 64).filter(lambda v: v != cout))
    else:
        new = data.draw(st.sampled_from([g for g in (2, 4) if cin % g == 0 and cout % g == 0] or [1]))
    target = count_with(layer, {change: new})
    if new == 1 or target.params == get_rule("conv").count(layer).params:
        return
    found = explain(layer, target.params, {change: new}, PAIR)
    assert found.explained and found.other_count.params == target.params
    assert count_text(target) in found.findings[0].message
