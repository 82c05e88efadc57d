"""Rendering a Diff: the same rows and findings in table, JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from support import diff_models as M

from auditor.count import audit_ir
from auditor.diff import diff_audits, diff_expectation
from auditor.expect import read_table
from auditor.report.diff import diff_to_dict, render_diff

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")




@pytest.fixture(scope="module")
def seed_diff():
    return diff_expectation(audit_ir(M.unet()), read_table(os.path.join(FIXTURES, "unet_seed001_hand.csv")))


def test_json_is_the_diff_schema(seed_diff):
    data = json.loads(render_diff(seed_diff, "json"))
    assert data == json.loads(json.dumps(diff_to_dict(seed_diff)))
    assert data["schema"] == "nn-auditor/diff@1" and data["differs"] is True
    assert len(data["rows"]) == 24
    assert [r["right"] for r in data["rows"] if r["status"] == "differs"] == [
        "conv2d_11", "conv2d_14", "conv2d_17", "conv2d_20"]
    assert data["totals"] == {"left": 31_031_685, "right": 34_513_285, "delta": 3_481_600,
                              "explained": 3_481_600, "unexplained": 0,
                              "rows": {"same": 20, "differs": 4, "only-left": 0, "only-right": 0}}


def test_csv_has_one_line_per_row_and_a_total(seed_diff):
    lines = list(csv.DictReader(io.StringIO(render_diff(seed_diff, "csv"))))
    assert len(lines) == 25 and lines[-1]["left"] == "TOTAL"
    assert int(lines[-1]["delta"]) == 3_481_600
    up = lines[10]
    assert (up["left"], up["right"], up["codes"]) == ("conv2d_10", "conv2d_11", "kernel_size")
    assert int(up["left_params"]) == 2_097_664 and "its kernel is 2x2, not 3x3" in up["findings"]
    assert sum(int(line["delta"]) for line in lines[:-1]) == 3_481_600


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_text_formats_list_rows_findings_and_verdict(seed_diff, fmt):
    text = render_diff(seed_diff, fmt)
    assert text.count("[kernel_size]") == 4
    assert "+2,621,440" in text and "31,031,685" in text and "34,513,285" in text
    assert "columns not used: out_size, should_be" in text
    assert text.rstrip().endswith("the two sides differ")
    if fmt == "markdown":
        assert "| conv2d_10 " in text and "### Findings" in text


def test_agreeing_models_say_so():
    text = render_diff(diff_audits(audit_ir(M.lenet()), audit_ir(M.lenet())), "table")
    assert "the two sides agree" in text and "findings" not in text


def test_one_sided_rows_render_with_dashes():
    right = M.model("lenet", [layer for layer in M.lenet().layers if layer.path != "conv2"], "torch")
    text = render_diff(diff_audits(audit_ir(M.lenet()), audit_ir(right)), "table")
    assert "only-left" in text and "[missing_layer]" in text


def test_unknown_format_is_refused(seed_diff):
    with pytest.raises(ValueError, match="unknown format"):
        render_diff(seed_diff, "xml")
