"""PyTorch structures around layers: pruning, parametrizations, wrappers, lazy modules, torch.ao
quantized modules and peft LoRA adapters.  Counts against sum(numel) (or the packed weights' own
numel), MACs against hand formulas or FlopCounterMode."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from torch.nn.utils import parametrizations, prune  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import auditor  # noqa: E402
from auditor.count import Status  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from auditor.report import render_audit  # noqa: E402


def numel(tensors) -> int:
    return sum(t.numel() for t in tensors)


def assert_verified(audit):
    bad = [(c.path, c.note, [f.message for f in c.findings]) for c in audit.checks if c.status not in ("ok", "no-params")]
    assert not bad and audit.consistent, bad


# ---- pruning ----------------------------------------------------------------------------------------


def test_pruned_layers_count_weight_orig_and_show_the_sparsity():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.random_unstructured(model[3], "weight", amount=0.3)
    audit = auditor.audit(model, input_shape=(1, 3, 8, 8))
    assert_verified(audit)
    assert audit.totals.reported == numel(model.parameters()) and audit.totals.buffers == numel(model.buffers())
    conv, linear = audit.checks[0], audit.checks[3]
    assert conv.formula == "(3*3*3+1)*8 = 224  (+ buffers 216 (weight pruning mask) = 216)"
    assert conv.metrics["pruned"] == 108 and linear.metrics["pruned"] == round(0.3 * 2880)
    assert (audit.totals.pruned, audit.totals.masked) == (108 + 864, 216 + 2880)
    assert "Pruned: 972 of 3,096 masked weights are zero (31.4% sparsity)" in render_audit(audit)
    assert conv.macs == 36 * 8 * 27  # the masked weight is still a dense product


# ---- parametrizations -------------------------------------------------------------------------------


def _parametrized():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        return [
            ("weight_norm", parametrizations.weight_norm(nn.Linear(6, 4)), "(6+1)*4 + 4 (weight weight_norm magnitude) = 32"),
            ("weight_norm dim=1", parametrizations.weight_norm(nn.Linear(6, 4), dim=1), "+ 6 (weight weight_norm magnitude) = 34"),
            ("spectral_norm", parametrizations.spectral_norm(nn.Linear(6, 4)), "(+ buffers 4+6 (weight spectral_norm u, v) = 10)"),
            ("orthogonal", parametrizations.orthogonal(nn.Linear(6, 4)), "(+ buffers 6*6 (weight orthogonal base) = 36)"),
            ("old weight_norm", nn.utils.weight_norm(nn.Linear(6, 4)), "+ 4 (weight weight_norm magnitude) = 32"),
            ("old spectral_norm", nn.utils.spectral_norm(nn.Linear(6, 4)), "(+ buffers 4+6 (weight spectral_norm u, v) = 10)"),
        ]


@pytest.mark.parametrize("name, layer, formula", _parametrized(), ids=[p[0] for p in _parametrized()])
def test_parametrized_weights_are_verified_with_what_they_store(name, layer, formula):
    model = nn.Sequential(layer, nn.ReLU())
    audit = auditor.audit(model, input_shape=(3, 6))
    assert_verified(audit)
    assert audit.totals.reported == numel(model.parameters()) and audit.totals.buffers == numel(model.buffers())
    assert formula in audit.checks[0].formula and audit.checks[0].kind == "dense"
    assert audit.checks[0].macs == 3 * 6 * 4


def test_parametrized_conv_weight_norm_over_output_channels():
    model = nn.Sequential(parametrizations.weight_norm(nn.Conv2d(2, 5, 3)))
    audit = auditor.audit(model, input_shape=(1, 2, 7, 7))
    assert_verified(audit)
    assert audit.checks[0].analytic == (3 * 3 * 2 + 1) * 5 + 5 == numel(model.parameters())


# ---- wrappers ---------------------------------------------------------------------------------------


def small():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("wrap, name", [(torch.compile, "torch.compile's OptimizedModule"),
                                         (nn.DataParallel, "DataParallel")])
def test_wrappers_are_unwrapped(wrap, name):
    audit = auditor.audit(wrap(small()), input_shape=(3, 4))
    assert [c.path for c in audit.checks] == ["0", "1", "2"] and audit.model.name == "Sequential"
    assert audit.totals.reported == 58 and audit.totals.macs == 3 * (32 + 16)
    assert f"unwrapped {name}: the module it runs is audited" in audit.model.notes


def test_distributed_data_parallel_is_unwrapped(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        audit = auditor.audit(nn.parallel.DistributedDataParallel(small()), input_shape=(3, 4))
    finally:
        dist.destroy_process_group()
    assert [c.path for c in audit.checks] == ["0", "1", "2"] and audit.totals.reported == 58
    assert any("DistributedDataParallel" in n for n in audit.model.notes)


# ---- lazy modules -----------------------------------------------------------------------------------


def test_lazy_modules_are_materialised_on_meta_from_the_input_shape():
    model = nn.Sequential(nn.LazyConv2d(6, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    audit = auditor.audit(model, input_shape=(2, 3, 8, 8))
    eager = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(), nn.Linear(216, 10))
    assert_verified(audit)
    assert audit.totals.reported == numel(eager.parameters()) == audit.model.framework_total
    assert audit.totals.buffers == numel(eager.buffers())
    assert audit.checks[4].macs == 2 * 216 * 10 and audit.checks[4].layer.attrs["in_features"] == 216
    assert isinstance(model[4].weight, nn.parameter.UninitializedParameter)  # the user's model is untouched
    assert any("lazy modules materialised on meta" in n for n in audit.model.notes)


def test_lazy_modules_without_inputs_are_refused_with_what_to_give():
    with pytest.raises(InputError, match="lazy parameter.*give input_shape or example_inputs"):
        auditor.audit(nn.Sequential(nn.LazyLinear(4)))


# ---- torch.ao quantized modules -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def quantization():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch.ao.quantization as quantization
    return quantization


class RecurrentHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj, self.rnn = nn.Linear(4, 3), nn.LSTM(3, 6, num_layers=2)

    def forward(self, x):
        return self.rnn(self.proj(x))[0]


def test_dynamic_quantized_linear_and_lstm_count_their_packed_weights(quantization):
    model = quantization.quantize_dynamic(RecurrentHead(), {nn.Linear, nn.LSTM}, dtype=torch.qint8)
    audit = auditor.audit(model, input_shape=(5, 2, 4))
    assert_verified(audit)
    packed = model.proj.weight().numel() + model.proj.bias().numel()
    packed += sum(numel(part.values()) for part in model.rnn._weight_bias().values())
    assert audit.totals.reported == packed == 15 + 600 and audit.totals.trainable == 0
    assert audit.checks[0].layer.params[0].dtype == "qint8"
    assert [c.macs for c in audit.checks] == [10 * 4 * 3, 10 * (4 * 6 * (3 + 6) + 4 * 6 * (6 + 6))]


class Static(nn.Module):
    def __init__(self, quantization):
        super().__init__()
        self.quant, self.dequant = quantization.QuantStub(), quantization.DeQuantStub()
        self.conv, self.relu, self.flat, self.fc = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 5)

    def forward(self, x):
        return self.dequant(self.fc(self.flat(self.relu(self.conv(self.quant(x))))))


def test_static_quantized_conv_and_linear_count_their_packed_weights(quantization):
    model = Static(quantization).eval()
    model.qconfig = quantization.get_default_qconfig("fbgemm")
    prepared = quantization.prepare(model)
    prepared(torch.randn(1, 3, 8, 8))
    converted = quantization.convert(prepared)
    audit = auditor.audit(converted, input_shape=(1, 3, 8, 8))
    assert_verified(audit)
    assert audit.totals.reported == 112 + 725 == audit.model.framework_total
    quantizer = audit.checks[0].layer
    assert quantizer.kind == "quantize" and quantizer.reported_buffers == 0 and quantizer.reported_quantization == 2
    assert audit.totals.quantization == 2
    assert [c.macs for c in audit.checks if c.kind in ("conv", "dense")] == [36 * 4 * 27, 144 * 5]


# ---- peft LoRA ----------------------------------------------------------------------------------------

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")


def test_lora_on_a_llama_2_7b_shaped_model_trains_4_194_304_parameters():
    config = transformers.LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
    with torch.device("meta"):
        base = transformers.LlamaForCausalLM(config)
    model = peft.get_peft_model(base, peft.LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
    audit = auditor.audit(model, input_shape=(1, 16), input_dtype="int64")
    assert_verified(audit)
    assert audit.totals.trainable == audit.totals.adapter_params == 4_194_304
    assert audit.totals.reported == 6_738_415_616 + 4_194_304 == numel(model.parameters())
    lora = [c for c in audit.checks if c.layer.adapter == "default"]
    assert len(lora) == 32 * 2 * 2 and lora[0].path == "model.layers.0.self_attn.q_proj.lora_A.default"
    assert lora[0].macs == 16 * 4096 * 8 and lora[1].macs == 16 * 8 * 4096
    text = render_audit(audit)
    assert "Adapters: 4,194,304 (4,194,304 trainable)   Base model: 6,738,415,616 (0 trainable)" in text


def test_lora_macs_match_flop_counter_on_a_small_model():
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, vocab_size=100)
    model = peft.get_peft_model(transformers.LlamaForCausalLM(config), peft.LoraConfig(r=4, target_modules=["q_proj"]))
    audit = auditor.audit(model, input_shape=(1, 8), input_dtype="int64")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.ones(1, 8, dtype=torch.long))
    lora = [c for c in audit.checks if c.layer.adapter]
    assert sum(c.macs for c in lora) == 2 * (8 * 64 * 4 + 8 * 4 * 64)
    products = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    linear = sum(c.macs for c in audit.checks if c.kind == "dense")  # base layers, LoRA matrices, LM head
    assert linear == (products.get("aten.mm", 0) + products.get("aten.addmm", 0)) // 2
    assert all(c.status != Status.MISMATCH for c in audit.checks)
