"""The memory budget's arithmetic, options, CLI and renderings (figures computed by hand or by CS231n)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from support.onnx_graphs import conv_dense_graph, save

import auditor
from auditor.cli import main
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.memory import MemoryOptions, memory_budget
from auditor.memory.checkpointing import blocks
from auditor.memory.optimizers import optimizer_state
from auditor.memory.options import PRECISIONS
from auditor.pass_facts import TensorFact
from auditor.report import render_audit

# CS231n's VGG-16 rows (values per image, batch 1): INPUT, 13 CONV, 5 POOL, 3 FC.
CS231N_VGG16_ROWS = [
    224 * 224 * 3, 224 * 224 * 64, 224 * 224 * 64, 112 * 112 * 64, 112 * 112 * 128, 112 * 112 * 128, 56 * 56 * 128,
    56 * 56 * 256, 56 * 56 * 256, 56 * 56 * 256, 28 * 28 * 256, 28 * 28 * 512, 28 * 28 * 512, 28 * 28 * 512,
    14 * 14 * 512, 14 * 14 * 512, 14 * 14 * 512, 14 * 14 * 512, 7 * 7 * 512, 4096, 4096, 1000,
]


def test_options_are_checked_with_one_line_errors() -> None:
    with pytest.raises(InputError, match="--optimizer 'lion'"):
        MemoryOptions(optimizer="lion")
    with pytest.raises(InputError, match="--batch must be a positive integer"):
        MemoryOptions(batch=0)
    assert PRECISIONS["bf16-mixed"].autocast == "bfloat16" and PRECISIONS["bf16-mixed"].weights == "float32"
    assert MemoryOptions(precision="bf16").pass_request().dtype == "bfloat16"


def _params(*sizes: int) -> list[ParamTensor]:
    return [ParamTensor(f"w{i}", (n,) if n < 100 else (n // 10, 10)) for i, n in enumerate(sizes)]


def test_adam8bit_keeps_bytes_per_element_plus_block_scales_and_float32_for_small_tensors() -> None:
    (item,) = optimizer_state("adam8bit", _params(5000, 100), PRECISIONS["fp32"])
    assert item.bytes == 2 * 5000 + 2 * 4 * math.ceil(5000 / 2048) + 2 * 4 * 100 + 2 * 256 * 4


def test_adafactor_factors_matrices_into_rows_and_columns() -> None:
    params = [ParamTensor("w", (30, 40)), ParamTensor("b", (40,))]
    (item,) = optimizer_state("adafactor", params, PRECISIONS["fp32"])
    assert item.bytes == 4 * (30 + 40 + 40) + 4 * 2


def test_pure_half_precision_keeps_optimizer_state_in_the_parameter_dtype() -> None:
    (item,) = optimizer_state("adam", [ParamTensor("w", (10, 10))], PRECISIONS["bf16"])
    assert item.bytes == 2 * 2 * 100 + 4


def _block_model() -> ModelIR:
    layers = []
    for n in range(3):
        for name in ("attn", "mlp"):
            fact = TensorFact("float32", storage=10 * n + (name == "mlp"), storage_bytes=400, requires_grad=True)
            layers.append(Layer(f"model.layers.{n}.{name}", "dense", "torch.nn.Linear",
                                {"in_features": 10, "out_features": 10, "use_bias": False}, [(10, 10)], [(10, 10)],
                                [ParamTensor("weight", (10, 10))], inputs=[fact]))
    return ModelIR("blocks", "torch", "test", layers)


def test_checkpointing_keeps_block_inputs_and_the_largest_block() -> None:
    model = _block_model()
    assert set(blocks(model).values()) == {"model.layers.0", "model.layers.1", "model.layers.2"}
    full = memory_budget(model, MemoryOptions()).item("activations saved for backward")
    checkpointed = memory_budget(model, MemoryOptions(checkpointing="blocks")).item("activations saved for backward")
    assert full.bytes == 6 * 400
    assert checkpointed.bytes == 3 * 400 + 2 * 400  # three block inputs + one block recomputed
    assert "block inputs" in checkpointed.formula


def test_budget_total_is_the_sum_of_its_items_in_every_format(tmp_path, capsys) -> None:
    pytest.importorskip("onnx")
    path = save(conv_dense_graph(), str(tmp_path))
    assert main([path, "--memory", "train", "--optimizer", "adam", "--format", "json"]) == 0
    memory = json.loads(capsys.readouterr().out)["memory"]
    assert memory["total_bytes"] == sum(i["bytes"] for i in memory["items"])
    assert {"name", "bytes", "formula"} <= set(memory["items"][0])
    assert any("no tensor facts" in n for n in memory["notes"])  # ONNX: shapes only
    report = auditor.audit(path, memory="train", optimizer="adam")
    rows = list(csv.reader(io.StringIO(render_audit(report, "csv").split("\n\n")[-1])))
    assert rows[0] == ["memory_item", "bytes", "formula"] and rows[-1][1] == str(report.memory.total_bytes)
    for fmt in ("table", "markdown"):
        text = render_audit(report, fmt)
        assert "Not included:" in text and f"{report.memory.total_bytes:,}" in text


def test_memory_flags_without_memory_are_a_usage_error(capsys) -> None:
    assert main(["reference:lasagne-mnist", "--batch", "4"]) == 2
    assert "--memory" in capsys.readouterr().err


def test_unknown_layers_are_reported_not_counted_as_zero() -> None:
    layer = Layer("odd", "tensor_op", "onnx:Gather", {}, [(4, 8)], [(4, 8)])
    item = memory_budget(ModelIR("m", "onnx", "t", [layer]), MemoryOptions()).item("activations")
    assert not item.complete and "unknown for 1 layers (odd)" in item.formula


def test_vgg16_inference_rows_reproduce_cs231n() -> None:
    pytest.importorskip("torch")
    report = auditor.audit("reference:vgg16", memory="infer", batch=1)
    rows = [row.bytes // 4 for row in report.memory.layers]
    assert rows == CS231N_VGG16_ROWS, report.model.notes
    assert report.memory.item("weights").bytes == 4 * 138_357_544
    peak = report.memory.item("activations alive at the peak")
    assert peak.bytes == 2 * 4 * 224 * 224 * 64  # the first conv's output and the ReLU's
