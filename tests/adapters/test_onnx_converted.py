"""Files other tools write, made at test time: torch.onnx exports in every mode, onnxruntime's quantizers
(dynamic, static QDQ and QOperator, 4-bit MatMulNBits) and its transformer optimizer on BERT and GPT-2.

The quantized graphs must count the same logical parameters as their float original, with scales and
zero points as quantization metadata; every file must be fully verified and exit 0.
"""

from __future__ import annotations

import logging
import os
import warnings

import pytest

import auditor
from auditor import Status
from auditor.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

CNN_TOTAL = (3 * 3 * 3 + 1) * 8 + (3 * 3 * 8 + 1) * 16 + (16 + 1) * 10
"""Conv 3->8 (its BatchNorm folded in by the exporter), Conv 8->16, Linear 16->10: 224 + 1,168 + 170."""
BERT_TOTAL = 52_320 - 1_056
"""BertModel(hidden 32, 2 layers, 2 heads, intermediate 64, vocab 1000, 64 positions) without its pooler,
which an export of last_hidden_state leaves out: sum(p.numel()) of the module minus 32*32+32."""
GPT2_TOTAL = 59_520
"""GPT2Model(n_embd 32, 2 layers, 2 heads, vocab 1000, 64 positions): sum(p.numel())."""


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("root").setLevel(logging.ERROR)


def _randomized(module):
    """Random weights, never all-equal (exporters merge equal initializers and drop zero biases)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(0.5, 1.0)
    return module.eval()


def _cnn():
    nn = torch.nn
    return _randomized(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                     nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                     nn.Flatten(), nn.Linear(16, 10)))


EXPORTS = {
    "opset9": {"opset_version": 9},
    "opset11": {"opset_version": 11},
    "opset17": {"opset_version": 17},
    "no-params": {"opset_version": 17, "export_params": False},
    "initializers-as-inputs": {"opset_version": 11, "keep_initializers_as_inputs": True},
}


class _Images:
    """Calibration data for quantize_static: a few random images."""

    def __init__(self) -> None:
        import numpy as np

        self.batches = [{"x": np.random.default_rng(i).standard_normal((1, 3, 16, 16)).astype("float32")}
                        for i in range(4)]

    def get_next(self):
        return self.batches.pop() if self.batches else None


@pytest.fixture(scope="session")
def cnn_files(tmp_path_factory):
    """The CNN exported every way torch.onnx can, and quantized every way onnxruntime can."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    _quiet()
    folder = tmp_path_factory.mktemp("cnn")
    net, x = _cnn(), torch.randn(1, 3, 16, 16)
    files = {}
    for name, options in EXPORTS.items():
        files[name] = str(folder / f"{name}.onnx")
        torch.onnx.export(net, (x,), files[name], dynamo=False, input_names=["x"], **options)
    files["dynamo"] = str(folder / "dynamo.onnx")
    torch.onnx.export(net, (x,), files["dynamo"], dynamo=True, verbose=False)
    source = files["opset17"]
    for name, weight_type in (("dynamic-int8", QuantType.QInt8), ("dynamic-uint8", QuantType.QUInt8)):
        files[name] = str(folder / f"{name}.onnx")
        quantize_dynamic(source, files[name], weight_type=weight_type, op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    for name, fmt, per_channel in (("static-qdq", QuantFormat.QDQ, False), ("static-qdq-per-channel", QuantFormat.QDQ, True),
                                   ("static-qoperator", QuantFormat.QOperator, False)):
        files[name] = str(folder / f"{name}.onnx")
        quantize_static(source, files[name], _Images(), quant_format=fmt, per_channel=per_channel)
    files["lstm"], files["lstm-dynamic"] = str(folder / "lstm.onnx"), str(folder / "lstm-dynamic.onnx")
    torch.onnx.export(_Tagger(), (torch.randn(2, 7, 6),), files["lstm"], dynamo=False, opset_version=17, input_names=["x"])
    quantize_dynamic(files["lstm"], files["lstm-dynamic"], weight_type=QuantType.QInt8)
    return files


class _Tagger(torch.nn.Module):
    """LSTM(6 -> 5, batch first) and Linear(5 -> 3): 4*5*(6+5+2) + (5+1)*3 = 278 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.fc = torch.nn.LSTM(6, 5, batch_first=True), torch.nn.Linear(5, 3)
        _randomized(self)

    def forward(self, x):
        return self.fc(self.lstm(x)[0])


@pytest.mark.parametrize("name", ["lstm", "lstm-dynamic"])
def test_an_lstm_export_and_its_dynamic_quantization_count_the_modules_parameters(cnn_files, name, capsys):
    """The exporter's zero initial states (a Constant expanded to the batch) are not parameters."""
    result = _assert_fully_verified(cnn_files[name], 278, capsys)
    assert [c.kind for c in result.checks if c.reported] == ["rnn", "dense"]
    assert any("initial states" in n for n in result.model.notes)
    if name == "lstm-dynamic":
        assert result.checks[[c.kind for c in result.checks].index("rnn")].layer.source_type.endswith("DynamicQuantizeLSTM")
        assert result.totals.quantization == 6


def _assert_fully_verified(path: str, total: int, capsys=None):
    result = auditor.audit(path)
    assert result.totals.reported == result.totals.analytic == total, result.totals
    assert result.totals.unverified == 0 and result.totals.unattributed == 0
    assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in result.checks), [
        (c.path, c.kind, c.note) for c in result.checks if c.status not in (Status.OK, Status.NO_PARAMS)]
    assert main([path, "--strict"]) == 0
    if capsys is not None:
        capsys.readouterr()
    return result


@pytest.mark.parametrize("name", [*EXPORTS, "dynamo"])
def test_torch_exports_in_every_mode_count_the_same_parameters(cnn_files, name, capsys):
    result = _assert_fully_verified(cnn_files[name], CNN_TOTAL, capsys)
    assert [c.reported for c in result.checks if c.reported] == [224, 1_168, 170]
    if name == "no-params":
        assert any("export_params=False" in n for n in result.model.notes)
        assert len(result.model.input_shapes) == 1


@pytest.mark.parametrize("name, metadata", [
    ("dynamic-int8", 3 * 2), ("dynamic-uint8", 3 * 2),  # one weight scale and zero point per layer
    ("static-qdq", None), ("static-qdq-per-channel", None), ("static-qoperator", None),
])
def test_quantized_graphs_count_the_float_originals_logical_parameters(cnn_files, name, metadata, capsys):
    result = _assert_fully_verified(cnn_files[name], CNN_TOTAL, capsys)
    weighted = [c for c in result.checks if c.reported]
    assert [c.kind for c in weighted] == ["conv", "conv", "dense"]
    assert result.totals.quantization > 0
    if metadata is not None:
        assert result.totals.quantization == metadata
    if name == "static-qdq-per-channel":  # a scale and zero point per output channel of every weight
        assert sum(c.layer.reported_quantization for c in weighted) >= 2 * (8 + 16 + 10)
    int8_weights = sum(p.numel for c in weighted for p in c.layer.params if p.counted and p.dtype in ("int8", "uint8"))
    assert int8_weights == 216 + 1_152 + 160, "the weights are stored in 8 bits"
    assert result.totals.param_bytes < CNN_TOTAL * 4 / 2, "parameter memory uses the stored dtype"


def _transformer(kind: str):
    import transformers

    transformers.logging.set_verbosity_error()
    if kind == "bert":
        config = transformers.BertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, max_position_embeddings=64, attn_implementation="eager")
        return _randomized(transformers.BertModel(config)), {}
    config = transformers.GPT2Config(vocab_size=1000, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                     attn_implementation="eager", bos_token_id=0, eos_token_id=0)
    return _randomized(transformers.GPT2Model(config)), {"use_cache": False}


class _LastHidden(torch.nn.Module):
    def __init__(self, model, **options) -> None:
        super().__init__()
        self.model, self.options = model, options

    def forward(self, ids, mask):
        return self.model(input_ids=ids, attention_mask=mask, **self.options).last_hidden_state


@pytest.fixture(scope="session")
def transformer_files(tmp_path_factory):
    """BERT-tiny and GPT-2-tiny (random init from configs), exported, optimized by onnxruntime's
    transformer optimizer, and quantized (8-bit dynamic; 4-bit MatMulNBits)."""
    pytest.importorskip("transformers")
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from onnxruntime.transformers.optimizer import optimize_model

    _quiet()
    folder = tmp_path_factory.mktemp("transformers")
    ids, mask = torch.randint(0, 1000, (1, 8)), torch.ones(1, 8, dtype=torch.long)
    files = {}
    for kind in ("bert", "gpt2"):
        model, options = _transformer(kind)
        files[kind] = str(folder / f"{kind}.onnx")
        torch.onnx.export(_LastHidden(model, **options), (ids, mask), files[kind], dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})
        files[f"{kind}-optimized"] = str(folder / f"{kind}-optimized.onnx")
        optimize_model(files[kind], model_type=kind, num_heads=2, hidden_size=32).save_model_to_file(
            files[f"{kind}-optimized"])
    files["bert-int8"] = str(folder / "bert-int8.onnx")
    quantize_dynamic(files["bert"], files["bert-int8"], weight_type=QuantType.QInt8)
    quantizer = MatMulNBitsQuantizer(onnx.load(files["bert"]), block_size=16, is_symmetric=True)
    quantizer.process()
    files["bert-int4"] = str(folder / "bert-int4.onnx")
    quantizer.model.save_model_to_file(files["bert-int4"])
    return files


FUSED = {
    "bert-optimized": {"attention", "embed_layer_norm", "layer_norm", "bias"},
    "gpt2-optimized": {"layer_norm", "bias"},
}
"""Kinds the optimizer's fused ops (Attention, EmbedLayerNormalization, SkipLayerNormalization,
BiasGelu / FastGelu) translate to."""


@pytest.mark.parametrize("name", ["bert", "bert-optimized", "gpt2", "gpt2-optimized", "bert-int8", "bert-int4"])
def test_transformer_exports_optimized_and_quantized_are_fully_verified(transformer_files, name, capsys):
    total = GPT2_TOTAL if name.startswith("gpt2") else BERT_TOTAL
    result = _assert_fully_verified(transformer_files[name], total, capsys)
    fused = [c for c in result.checks if c.layer.source_type.startswith("onnx:com.microsoft")]
    if name in FUSED:
        assert fused and FUSED[name] <= {c.kind for c in fused}
        assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in fused)
    if name == "bert-int4":
        packed = [c for c in result.checks if c.layer.source_type == "onnx:com.microsoft.MatMulNBits"]
        assert len(packed) == 12 and all(c.status is Status.OK for c in packed)
        weight = packed[0].layer.params[0]
        assert weight.dtype == "int4" and weight.nbytes * 2 == weight.numel, "two 4-bit weights per stored byte"
    if name.startswith("bert-int"):
        assert result.totals.quantization > 0


def test_an_optimized_file_has_every_shape_after_its_fused_ops(transformer_files):
    result = auditor.audit(transformer_files["bert-optimized"], input_shape="2x8;2x8")
    assert result.totals.macs_complete and result.totals.macs > 0
    assert all(c.output_shape for c in result.checks if c.reported), "shapes flow through the com.microsoft ops"
    assert os.path.exists(transformer_files["bert-optimized"])
