"""Reconciliation: every difference has a signed amount, the amounts add up to the delta per row and for
the whole model, and what no finding explains is named by its rows (seeds 001, 003, 004 on hand-built IRs)."""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from support import diff_models as M

from auditor.count import audit_ir
from auditor.diff import diff_audits, diff_expectation
from auditor.expect import read_table
from auditor.reconcile import MODEL_LEVEL, Line, reconcile
from auditor.report.diff import diff_to_dict, render_diff
from auditor.report.reconciliation import cause_text

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SEED_001 = os.path.join(FIXTURES, "unet_seed001_hand.csv")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def check_adds_up(diff):
    """The JSON's own arithmetic: delta = explained + unexplained, per row and for the whole model."""
    data = json.loads(render_diff(diff, "json"))
    for row in data["rows"]:
        assert row["delta"] == row["explained"] + row["unexplained"]
        counted = [f["amount"] for f in row["findings"] if f["amount"] is not None]
        assert sum(counted) == row["explained"]
    totals = data["totals"]
    assert totals["delta"] == totals["explained"] + totals["unexplained"] == totals["right"] - totals["left"]
    block = data["reconciliation"]
    assert block["explained"] == totals["explained"] == sum(item["amount"] for item in block["items"])
    assert block["unexplained"] == sum(r["amount"] for r in block["unexplained_rows"])
    return data


def test_seed_001_reconciles_to_four_kernel_sizes_with_nothing_left():
    diff = diff_expectation(audit_ir(M.unet()), read_table(SEED_001))
    rec = diff.reconciliation
    assert rec.delta == rec.explained == 3_481_600 and rec.unexplained == 0 and not rec.remainders
    (cause,) = rec.causes
    line = "+3,481,600 = 4 x kernel_size 2x2 not 3x3 (+2,621,440 +655,360 +163,840 +40,960)"
    assert cause_text(cause) == line and cause.where[0] == "conv2d_10 / conv2d_11"
    text = render_diff(diff)
    assert line in text and "the model 31,031,685 + explained +3,481,600 = your table 34,513,285" in text
    assert "unexplained: 0" in text and not diff.equivalent
    data = check_adds_up(diff)
    assert data["reconciliation"]["items"][0]["amounts"] == [2_621_440, 655_360, 163_840, 40_960]


def test_vgg16_weights_only_table_is_sixteen_biases(tmp_path):
    rows = M.vgg16_weights_only_rows()
    path = write(tmp_path, "cs231n.csv", "layer,params\n" + "".join(f"{n},{c}\n" for n, c in rows)
                 + "TOTAL,138344128\n")
    diff = diff_expectation(audit_ir(M.vgg16()), read_table(path))
    rec = diff.reconciliation
    (cause,) = rec.causes
    assert (cause.code, cause.count, cause.amount) == ("bias", 16, 138_344_128 - 138_357_544)
    assert cause.label == "bias in the model, not in your table" and rec.unexplained == 0
    check_adds_up(diff)


def test_alexnet_one_tower_vs_two_towers_is_exactly_groups():
    diff = diff_audits(audit_ir(M.alexnet()), audit_ir(M.alexnet(two_tower=True)))
    rec = diff.reconciliation
    (cause,) = rec.causes
    assert cause.code == "groups" and cause.where == ("conv2", "conv4", "conv5")
    assert rec.explained == rec.delta == 60_965_224 - 62_378_344 and rec.unexplained == 0
    assert cause.label == "groups 1 in left, 2 in right"
    assert not diff.equivalent, "groups is a different architecture, not a counting convention"
    check_adds_up(diff)


def test_what_nothing_explains_is_named_by_its_row(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params\nconv1,156\nconv2,2417\nfc1,48120\nfc2,10164\nfc3,850\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    rec = diff.reconciliation
    assert rec.explained == 0 and rec.unexplained == 1
    assert [(r.where, r.amount) for r in rec.remainders] == [("conv2", 1)]
    assert "unexplained +1 in 1 row(s): conv2 (+1)" in render_diff(diff)
    check_adds_up(diff)


def test_a_table_total_that_is_not_its_rows_sum_is_a_model_level_share(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params\nconv1,156\nconv2,2416\nfc1,48120\nfc2,10164\nfc3,850\nTOTAL,60000\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    rec = diff.reconciliation
    assert rec.delta == 60_000 - 61_706 == rec.explained and rec.unexplained == 0
    (cause,) = rec.causes
    assert cause.code == "table_total" and cause.where == (MODEL_LEVEL,)
    check_adds_up(diff)


def test_missing_and_extra_rows_carry_their_counts(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params\nconv1,156\nfc1,48120\nfc2,10164\nsoftmax_fc,850\nextra,999\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    amounts = {c.code: c.amount for c in diff.reconciliation.causes}
    assert amounts == {"missing_layer": -2_416, "extra_layer": 999}
    check_adds_up(diff)


def test_keras_vs_pytorch_conventions_are_equivalent():
    from test_diff import keras_and_torch_ports

    keras_ir, torch_ir = keras_and_torch_ports()
    diff = diff_audits(audit_ir(keras_ir), audit_ir(torch_ir))
    rec = diff.reconciliation
    assert {c.code: c.amount for c in rec.causes} == {"bn_convention": -32, "rnn_bias_convention": 128 + 24}
    assert diff.differs and diff.equivalent and rec.unexplained == 0
    assert render_diff(diff).rstrip().splitlines()[-1].startswith("equivalent: ")
    assert diff_to_dict(diff)["equivalent"] is True


def test_batchnorm_folded_by_an_exporter_is_equivalent():
    from test_diff import conv_bn_net

    onnx_ir = M.model("net.onnx", [M.conv("/conv1/Conv", 3, 16, 3), M.conv("/conv2/Conv", 16, 32, 3),
                                   M.dense("/fc/Gemm", 32, 10)], "onnx")
    diff = diff_audits(audit_ir(conv_bn_net()), audit_ir(onnx_ir))
    rec = diff.reconciliation
    (cause_bn, cause_bias) = sorted(rec.causes, key=lambda c: c.amount)
    assert cause_bn.amounts == (-32, -64) and cause_bias.amounts == (16, 32)
    assert rec.delta == -(16 + 32) == rec.explained and diff.equivalent
    check_adds_up(diff)


def test_reconcile_groups_by_cause_and_keeps_alternatives_out():
    from auditor.findings import Finding

    rows = [Line("a", 10, (Finding("x", "", 10, "x 1"), Finding("y", "", 0, "y 2"))),
            Line("b", 5, (Finding("x", "", 5, "x 1"),)), Line("c", 3, (Finding("kind", "", None),))]
    rec = reconcile(rows, [Finding("t", "", 2, "table")], ("l", 0), ("r", 20))
    assert [(c.code, c.amounts) for c in rec.causes] == [("x", (10, 5)), ("t", (2,))]
    assert [(r.where, r.amount) for r in rec.remainders] == [("c", 3)]
    assert rec.explained == 17 and rec.unexplained == 3 and len(rec.blocking) == 1 and not rec.equivalent


COUNTS = st.integers(1, 4_000_000)


@settings(max_examples=40, deadline=None)
@given(st.lists(COUNTS, min_size=1, max_size=6))
def test_any_table_reconciles_row_by_row(counts):
    """Whatever a table says, every row's findings explain all of its delta or none of it (no double count)."""
    import tempfile

    layers = [M.conv(f"c{i}", 8 * (i + 1), 16, 3) for i in range(len(counts))]
    model = M.model("net", layers, "keras")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("layer,params\n" + "".join(f"c{i},{n}\n" for i, n in enumerate(counts)))
        diff = diff_expectation(audit_ir(model), read_table(path))
    for row in diff.rows:
        assert row.explained in (0, row.delta)
    check_adds_up(diff)


def test_cli_exit_codes_for_an_equivalent_export(tmp_path, capsys):
    """A BatchNorm CNN and its ONNX export: equivalent, exit 0 (one line says so); --exact: exit 1."""
    import pytest

    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import torch
    from support.export_models import conv_bn, export

    from auditor.cli import main

    path = export(conv_bn(), (torch.randn(1, 3, 8, 8),), str(tmp_path / "net.onnx"), dynamo=False)
    spec = "support.export_models:conv_bn"
    assert main([spec, path, "--input-shape", "1x3x8x8"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("equivalent: ") for line in out.splitlines()) == 1
    assert main([spec, path, "--input-shape", "1x3x8x8", "--exact"]) == 1
    capsys.readouterr()
    assert main([spec, path, "--input-shape", "1x3x8x8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["equivalent"] is True and data["totals"]["unexplained"] == 0
    assert {item["code"] for item in data["reconciliation"]["items"]} == {"bn_folded"}
