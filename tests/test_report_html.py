"""--format html: one self-contained page (nothing fetched), escaped text, charts, differing rows marked,
the reconciliation block, unknown values printed as unknown."""

from __future__ import annotations

import re

import pytest

import auditor
from auditor.cli import main
from auditor.diff import diff_audits, diff_expectation
from auditor.expect import read_table
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.report import render_audit
from auditor.report.diff import render_diff
from auditor.report.html_diff import render_diff_html


def _model(name: str = "net", out: int = 8) -> ModelIR:
    conv = Layer("features.0", "conv", "torch.nn.Conv2d",
                 {"in_channels": 3, "out_channels": out, "kernel_size": (3, 3), "stride": (1, 1), "padding": ((1, 1), (1, 1)),
                  "dilation": (1, 1), "groups": 1, "use_bias": True, "layout": "channels_first"},
                 [(1, 3, 16, 16)], [(1, out, 16, 16)], [ParamTensor("weight", (out, 3, 3, 3)), ParamTensor("bias", (out,))])
    fc = Layer("head.<fc>", "dense", "torch.nn.Linear", {"in_features": out, "out_features": 4, "use_bias": True},
               [(1, out)], [(1, 4)], [ParamTensor("weight", (4, out)), ParamTensor("bias", (4,))])
    return ModelIR(name, "torch", f"{name}.pt2", [conv, fc], [(1, 3, 16, 16)])


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<link\b|@import|url\(|\b(src|href)\s*=", page, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_an_audit_page_is_self_contained_with_charts_and_every_layer():
    page = render_audit(auditor.audit(_model()), "html")
    _self_contained(page)
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'id="chart-params"' in page and 'id="chart-macs"' in page
    assert page.count('<tr class="ok">') == 2
    assert "(3*3*3+1)*8 = 224" in page and "head.&lt;fc&gt;" in page and "<fc>" not in page
    assert "nn-auditor-check" in page


def test_unknown_macs_are_unknown_not_zero():
    model = _model()
    model.layers[0].input_shapes = [("batch", 3, "h", "w")]
    model.layers[0].output_shapes = [("batch", 8, "h", "w")]
    model.input_shapes = [("batch", 3, "h", "w")]
    page = render_audit(auditor.audit(model), "html")
    assert "incomplete: 1 of 2 layers have unknown MACs" in page  # the text report's reason, not a fixed hint
    assert '<td class="n muted" data-v="-1">unknown</td>' in page


def test_a_model_diff_marks_differing_rows_and_reconciles_the_delta():
    diff = diff_audits(auditor.audit(_model("left", 8)), auditor.audit(_model("right", 16)))
    page = render_diff(diff, "html")
    _self_contained(page)
    assert page.count('<tr class="differs">') == 2
    reconciliation = page[page.index('<section id="reconciliation">'):page.index("</section>")]
    delta = diff.right_total - diff.left_total
    assert f"<dt>explained</dt><dd>{delta:,}</dd>" in reconciliation and "<dt>unexplained</dt><dd>0</dd>" in reconciliation
    causes = re.findall(r'<tr class="cause">.*?</tr>', reconciliation)
    amounts = [int(v) for row in causes for v in re.findall(r'data-v="(-?\d+)">[+-]', row)]
    assert causes and sum(amounts) == delta


def test_a_table_diff_renders_its_rows(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("layer,params\nconv,224\nfc,99\n")
    table = read_table(str(path))
    page = render_diff(diff_expectation(auditor.audit(_model()), table), "html")
    assert '<tr class="same">' in page and '<tr class="differs">' in page and "hand.csv" in page


def test_a_reconciliation_block_is_shown_cause_by_cause():
    block = {"base": "keras", "base_total": 10, "target": "torch", "target_total": 4, "delta": -6, "explained": -4,
             "unexplained": -2, "equivalent": False,
             "items": [{"code": "bn_convention", "cause": "moving statistics counted", "count": 2, "amount": -4,
                        "equivalent": True, "amounts": [-2, -2], "rows": ["bn1", "bn2"]}],
             "unexplained_rows": [{"row": "#3 fc", "amount": -2}]}
    document = {"left": {"name": "a"}, "right": {"name": "b"}, "differs": True, "rows": [], "reconciliation": block}
    section = render_diff_html(document)
    section = section[section.index('<section id="reconciliation">'):]
    assert "<dt>keras total</dt><dd>10</dd><dt>explained</dt><dd>-4</dd><dt>unexplained</dt><dd>-2</dd>" in section
    assert "<td>moving statistics counted</td>" in section and ">-4</td><td>convention</td>" in section
    assert "<li>#3 fc <b>-2</b></li>" in section


def test_a_folder_in_html_is_one_page_with_the_summary(tmp_path, capsys):
    pytest.importorskip("onnx")
    from support.onnx_graphs import conv_dense_graph, save

    for name in ("a.onnx", "b.onnx"):
        save(conv_dense_graph(), str(tmp_path), name)
    assert main([str(tmp_path), "--format", "html"]) == 0
    page = capsys.readouterr().out
    _self_contained(page)
    assert page.count("<!DOCTYPE html>") == 1 and page.count('<section class="audit">') == 2
    assert "Summary of 2 models" in page


def test_a_checkpoint_comparison_page_shows_the_reconciliation(tmp_path, capsys):
    pytest.importorskip("transformers")
    pytest.importorskip("safetensors")
    import json

    from benchmarks.checkpoint_files import LlamaShape, llama_tensors, write_safetensors

    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 32000, "torch_dtype": "float16", "tie_word_embeddings": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    write_safetensors(tmp_path / "model.safetensors", llama_tensors(LlamaShape(64, 128, 2, 4, 2, vocab=32001)))
    assert main([str(tmp_path / "config.json"), str(tmp_path / "model.safetensors"), "--format", "html"]) == 1
    page = capsys.readouterr().out
    _self_contained(page)
    section = page[page.index('<section id="reconciliation">'):]
    assert "<dt>architecture total</dt><dd>4,170,048</dd>" in section
    assert "<dt>checkpoint total</dt><dd>4,170,176</dd>" in section and "<dt>explained</dt><dd>128</dd>" in section
    assert section.count('<tr class="cause">') == 2 and section.count('data-v="64">+64</td>') == 2


def test_a_memory_budget_is_a_table_on_the_page():
    pytest.importorskip("torch")
    page = render_audit(auditor.audit("reference:lenet5", memory="train"), "html")
    _self_contained(page)
    section = page[page.index("<h3>Memory budget: train</h3>"):page.index("<h3>Layers</h3>")]
    assert "weights (float32)" in section and "246,824" in section and "<b>TOTAL" in section
