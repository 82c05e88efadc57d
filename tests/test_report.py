"""Rendering an audit: the JSON contract, the seed 000 table, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json

import pytest

from auditor import Layer, ModelIR, ParamTensor, audit_ir
from auditor.report import render_audit


def _conv(path, cin, cout, k, shape, out):
    attrs = dict(in_channels=cin, out_channels=cout, kernel_size=(k, k), stride=(1, 1), dilation=(1, 1),
                 padding="valid", groups=1, use_bias=True, layout="channels_first")
    return Layer(path, "conv", "test", attrs, [shape], [out],
                 [ParamTensor("weight", (cout, cin, k, k)), ParamTensor("bias", (cout,))])


def _pool(path, shape, out):
    attrs = dict(op="max", kernel_size=(2, 2), stride=(2, 2), dilation=(1, 1), padding="valid", ceil_mode=False,
                 layout="channels_first")
    return Layer(path, "pool", "test", attrs, [shape], [out])


def _dense(path, fin, fout, shape, out, flattened_from=None):
    attrs = dict(in_features=fin, out_features=fout, use_bias=True)
    if flattened_from:
        attrs["flattened_from"] = flattened_from
    return Layer(path, "dense", "test", attrs, [shape], [out],
                 [ParamTensor("weight", (fout, fin)), ParamTensor("bias", (fout,))])


@pytest.fixture
def seed000():
    """The Lasagne MNIST CNN of seed 000, as an adapter would translate it."""
    layers = [
        _conv("conv2d1", 1, 32, 5, (1, 1, 28, 28), (1, 32, 24, 24)),
        _pool("maxpool1", (1, 32, 24, 24), (1, 32, 12, 12)),
        _conv("conv2d2", 32, 32, 3, (1, 32, 12, 12), (1, 32, 10, 10)),
        _pool("maxpool2", (1, 32, 10, 10), (1, 32, 5, 5)),
        Layer("flatten", "flatten", "test", {"start_axis": 1, "end_axis": -1}, [(1, 32, 5, 5)], [(1, 800)]),
        _dense("dense", 800, 256, (1, 800), (1, 256), (32, 5, 5)),
        _dense("output", 256, 10, (1, 256), (1, 10)),
    ]
    return audit_ir(ModelIR("lasagne", "test", "memory", layers, input_shapes=[(1, 1, 28, 28)]))


def test_table_reproduces_the_seed000_answer(seed000):
    text = render_audit(seed000, "table")
    for expected in ("(5*5*1+1)*32 = 832", "(3*3*32+1)*32 = 9,248", "(32*5*5+1)*256 = 205,056",
                     "(256+1)*10 = 2,570", "Total params: 217,706", "32x24x24", "32x12x12", "32x10x10", "32x5x5"):
        assert expected in text, expected
    sizes = [line.split()[2] for line in text.splitlines() if line.startswith(("conv", "maxpool", "dense", "output"))]
    assert sizes == ["32x24x24", "32x12x12", "32x10x10", "32x5x5", "256", "10"]


def test_json_follows_the_report_schema(seed000):
    document = json.loads(render_audit(seed000, "json"))
    assert document["schema"] == "nn-auditor/report@1"
    assert document["totals"]["reported"] == document["totals"]["analytic"] == 217_706
    assert document["totals"]["flops"] == 2 * document["totals"]["macs"]
    for layer in document["layers"]:
        assert {"path", "kind", "reported", "analytic", "formula", "status", "findings"} <= set(layer)
    assert [layer["status"] for layer in document["layers"]].count("ok") == 4
    assert document["layers"][0]["output_shape"] == [1, 32, 24, 24]


def test_json_numbers_stay_exact_past_2_to_the_53():
    huge = Layer("e", "embedding", "t", dict(num_embeddings=2**40, embedding_dim=2**20), [(1,)], [(1, 2**20)],
                 [ParamTensor("weight", (2**40, 2**20))])
    document = json.loads(render_audit(audit_ir(ModelIR("big", "test", "x", [huge])), "json"))
    assert document["totals"]["reported"] == 2**60 and document["layers"][0]["analytic"] == 2**60


def test_csv_rows_add_up_to_the_total_row(seed000):
    rows = list(csv.DictReader(io.StringIO(render_audit(seed000, "csv"))))
    assert rows[-1]["path"] == "TOTAL"
    assert sum(int(r["reported"]) for r in rows[:-1]) == int(rows[-1]["reported"]) == 217_706


def test_markdown_is_a_github_table(seed000):
    text = render_audit(seed000, "markdown")
    assert text.startswith("## lasagne") and "| conv2d1 " in text and "|---" in text


def test_mismatch_findings_are_listed_under_the_table(seed000):
    seed000.checks[0].layer.params[0] = ParamTensor("weight", (32, 1, 3, 3))
    text = render_audit(audit_ir(seed000.model), "table")
    assert "Findings:" in text and "[param_count] conv2d1" in text


def test_depth_folds_rows(seed000):
    for check in seed000.checks:
        check.layer.path = "net." + check.layer.path
    text = render_audit(seed000, "table", depth=1)
    body = [line for line in text.splitlines() if line.startswith("net")]
    assert len(body) == 1 and "217,706" in body[0]


def test_unknown_format_is_refused(seed000):
    with pytest.raises(ValueError, match="unknown format"):
        render_audit(seed000, "yaml")


def test_unknown_is_not_zero_in_json_text_and_html():
    """Issue 17: without shapes, MACs, FLOPs and activation memory are unknown (JSON null), not 0."""
    dense = Layer("fc", "dense", "torch.nn.Linear", {"in_features": 8, "out_features": 4, "use_bias": True}, [], [],
                  [ParamTensor("weight", (4, 8)), ParamTensor("bias", (4,))])
    audit = audit_ir(ModelIR("noshapes", "torch", "factory:build", [dense]))
    totals = json.loads(render_audit(audit, "json"))["totals"]
    assert totals["macs"] is None and totals["flops"] is None and totals["macs_complete"] is False
    assert totals["activation_elements"] is None and totals["activation_bytes"] is None
    text = render_audit(audit, "table")
    assert "MACs: unknown (no shapes are known: give --input-shape, e.g. 1x3x224x224)   FLOPs: unknown" in text
    assert "Activation memory (one forward pass): unknown (no shapes are known: give --input-shape" in text
    assert "MACs: 0" not in text and "0 values" not in text
    page = render_audit(audit, "html")
    assert "<dd>unknown (no shapes are known: give --input-shape, e.g. 1x3x224x224)</dd>" in page


def test_dims_no_one_named_print_as_a_question_mark():
    from auditor.report.common import shape_text

    assert shape_text((1, 8, "unk__0", "unk__1"), drop_batch=True) == "8x?x?"
    assert shape_text(("batch", 3, "H", "W")) == "batchx3xHxW"


def _symbolic_model() -> ModelIR:
    """A conv over an input whose H and W are symbolic, then a global pool and a dense layer of known size."""
    conv = _conv("conv", 3, 8, 3, ("N", 3, "H", "W"), ("N", 8, "H-2", "W-2"))
    gap = Layer("gap", "pool", "test", dict(op="avg", global_pool=True, layout="channels_first"),
                [("N", 8, "H-2", "W-2")], [("N", 8)])
    dense = _dense("fc", 8, 4, ("N", 8), ("N", 4))
    return ModelIR("sym", "onnx", "sym.onnx", [conv, gap, dense], input_shapes=[("N", 3, "H", "W")])


def test_symbolic_input_dims_make_sizes_unknown_and_say_which_dims():
    """An ONNX graph with symbolic H and W: MACs unknown naming H and W, activations a marked lower bound."""
    audit = audit_ir(_symbolic_model())
    totals = json.loads(render_audit(audit, "json"))["totals"]
    assert totals["macs_complete"] is False and totals["activation_complete"] is False
    assert totals["activation_elements"] == 8 + 4      # the pooled and dense outputs; conv and input unknown
    text = render_audit(audit, "table")
    assert "Activation memory (one forward pass): 12 values" in text
    assert "(incomplete: 2 outputs with symbolic dims not counted)" in text
    assert "(incomplete: 2 outputs with symbolic dims not counted)" in render_audit(audit, "html")


def test_no_concrete_size_anywhere_is_unknown_with_the_symbolic_dims_named():
    conv = _conv("conv", 3, 8, 3, ("N", 3, "H", "W"), ("N", 8, "H-2", "W-2"))
    audit = audit_ir(ModelIR("sym", "onnx", "sym.onnx", [conv], input_shapes=[("N", 3, "H", "W")]))
    totals = json.loads(render_audit(audit, "json"))["totals"]
    assert totals["macs"] is None and totals["activation_elements"] is None and totals["flops"] is None
    text = render_audit(audit, "table")
    assert "MACs: unknown (the input dims H, W are symbolic: give --input-shape with numbers)" in text
    assert "Activation memory (one forward pass): unknown (the input dims H, W" in text
    assert "0 values" not in text
