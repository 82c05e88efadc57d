"""PyTorch adapter: seed models, transformers models from configs, tied/frozen/root-owned parameters,
operator-level MACs, model sources (objects, factories, .pt2, TorchScript, refused pickles)."""

from __future__ import annotations

import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import auditor  # noqa: E402
from adapters.torch import register_module, unregister_module  # noqa: E402
from adapters.torch_types import DuplicateModuleError  # noqa: E402
from auditor.count import Status, bytes_per_element  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from auditor.report import render_audit  # noqa: E402
from auditor.report.common import bytes_text  # noqa: E402

# ---- seed models ----------------------------------------------------------------------------------


def lasagne_cnn():
    """Seed 000: the Lasagne MNIST CNN, 217,706 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 256), nn.ReLU(), nn.Linear(256, 10),
    )


def lenet5():
    """Seed 004: LeNet-5 with modern layers, 61,706 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    )


def alexnet():
    """Seed 004: single-tower AlexNet at 227x227, 62,378,344 parameters."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 1000),
    )


def vgg16():
    """Seeds 003/004: VGG-16, 138,357,544 parameters."""
    layers: list[nn.Module] = []
    cin = 3
    for width, repeats in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(repeats):
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU()]
            cin = width
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(25088, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Seed 001 in PyTorch: upsampling followed by a 2x2 'same' conv, 31,031,685 parameters."""

    def __init__(self):
        super().__init__()

        def double(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1),
                                 nn.ReLU())

        widths = (64, 128, 256, 512, 1024)
        self.down = nn.ModuleList([double(cin, cout) for cin, cout in zip((1, *widths[:-1]), widths)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            [nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(w * 2, w, 2, padding="same")) for w in widths[-2::-1]]
        )
        self.merge = nn.ModuleList([double(w * 2, w) for w in widths[-2::-1]])
        self.head = nn.Sequential(nn.Conv2d(64, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 1))

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, skips[-2::-1]):
            x = merge(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


SEEDS = [
    ("lasagne", lasagne_cnn, (1, 1, 28, 28), 217_706),
    ("lenet5", lenet5, (1, 1, 28, 28), 61_706),
    ("alexnet", alexnet, (1, 3, 227, 227), 62_378_344),
    ("vgg16", vgg16, (1, 3, 224, 224), 138_357_544),
    ("unet", UNet, (1, 1, 256, 256), 31_031_685),
]


@pytest.mark.parametrize("name, build, shape, total", SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_models_audit_with_every_layer_ok(name, build, shape, total):
    with torch.device("meta"):
        model = build()
    audit = auditor.audit(model, input_shape=shape)
    assert audit.totals.reported == audit.totals.analytic == total
    assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in audit.checks), [
        (c.path, c.note, [f.message for f in c.findings]) for c in audit.checks if c.status not in ("ok", "no-params")
    ]
    assert audit.consistent and audit.totals.macs_complete


def test_seed_000_formulas_read_like_the_answer():
    audit = auditor.audit(lasagne_cnn(), input_shape="1x1x28x28")
    formulas = [c.formula for c in audit.checks if c.reported]
    assert formulas == ["(5*5*1+1)*32 = 832", "(3*3*32+1)*32 = 9,248", "(32*5*5+1)*256 = 205,056",
                        "(256+1)*10 = 2,570"]
    assert [c.layer.output_shapes[0] for c in audit.checks][:6] == [
        (1, 32, 24, 24), (1, 32, 24, 24), (1, 32, 12, 12), (1, 32, 10, 10), (1, 32, 10, 10), (1, 32, 5, 5)]


@pytest.mark.parametrize("name, build, shape", [("lasagne", lasagne_cnn, (1, 1, 28, 28)),
                                                ("lenet5", lenet5, (1, 1, 28, 28))])
def test_onnx_export_agrees_layer_by_layer(tmp_path, name, build, shape):
    pytest.importorskip("onnxscript")
    onnx_adapter = pytest.importorskip("adapters.onnx")
    model = build().eval()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (torch.randn(*shape),), str(path), dynamo=True, verbose=False)
    weighted_torch = [(c.kind, c.reported) for c in auditor.audit(model, input_shape=shape).checks if c.reported]
    onnx_ir = onnx_adapter.read_onnx(str(path))
    weighted_onnx = [(c.kind, c.reported) for c in auditor.audit_ir(onnx_ir).checks if c.reported]
    assert weighted_torch == weighted_onnx


# ---- transformers models from configs ---------------------------------------------------------------

transformers = pytest.importorskip("transformers")


def _verified_share(audit) -> float:
    ok = sum(c.reported for c in audit.checks if c.status == Status.OK)
    return ok / audit.totals.reported


def _hf_cases():
    t = transformers
    return [
        ("bert-base", lambda: t.BertModel(t.BertConfig()), dict(input_shape=(1, 128), input_dtype="int64")),
        ("gpt2", lambda: t.GPT2LMHeadModel(t.GPT2Config()), dict(input_shape=(1, 64), dtype="int64")),
        ("llama-small", lambda: t.LlamaForCausalLM(t.LlamaConfig(
            hidden_size=256, intermediate_size=688, num_hidden_layers=2, num_attention_heads=8,
            num_key_value_heads=2, vocab_size=1000)), dict(input_shape=(1, 32), dtype="int64")),
        ("vit-b16", lambda: t.ViTModel(t.ViTConfig()), dict(input_shape=(1, 3, 224, 224))),
        ("t5-small", lambda: t.T5ForConditionalGeneration(t.T5Config()), dict(example_inputs={
            "input_ids": torch.zeros(1, 16, dtype=torch.long, device="meta"),
            "decoder_input_ids": torch.zeros(1, 8, dtype=torch.long, device="meta")})),
    ]


@pytest.mark.parametrize("name, build, options", _hf_cases(), ids=[c[0] for c in _hf_cases()])
def test_transformers_totals_and_verified_share(name, build, options):
    with torch.device("meta"):
        model = build()
    audit = auditor.audit(model, **options)
    assert audit.totals.reported == sum(p.numel() for p in model.parameters())
    assert audit.totals.mismatches == 0, [(c.path, [f.message for f in c.findings]) for c in audit.checks
                                          if c.status == Status.MISMATCH]
    assert _verified_share(audit) >= 0.99
    assert audit.totals.macs > 0
    assert not [n for n in audit.model.notes if "stopped early" in n], audit.model.notes


def test_model_code_that_asks_item_of_a_mask_still_runs_the_whole_pass():
    """transformers' packed-sequence check calls `.item()` (use_cache=False): fake tensors answer it."""
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, use_cache=False))
    audit = auditor.audit(model, input_shape=(1, 16), input_dtype="int64")
    assert not [n for n in audit.model.notes if "stopped early" in n], audit.model.notes
    head = next(c for c in audit.checks if c.path == "lm_head")
    assert head.macs == 16 * 768 * 50257 and audit.totals.macs_complete


def test_gpt2_tied_head_is_counted_once_and_shown_shared():
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2))
    audit = auditor.audit(model, input_shape=(1, 8), dtype="int64")
    head = next(c for c in audit.checks if c.path == "lm_head")
    assert [p.shared_with for p in head.layer.params] == ["transformer.wte"]
    assert head.reported == 0 and audit.totals.shared == 50257 * 768
    assert head.status == Status.OK


def test_vit_macs_include_attention_products():
    """torchinfo says 173M mult-adds; FlopCounterMode on meta measures 17.56G MACs."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = transformers.ViTModel(transformers.ViTConfig(), add_pooling_layer=False)
    audit = auditor.audit(model, input_shape=(1, 3, 224, 224))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    measured = counter.get_total_flops() // 2
    assert 17.4e9 < audit.totals.macs < 17.7e9
    assert abs(audit.totals.macs - measured) / measured < 0.005  # the rest: LayerNorm's one MAC per element
    sdpa = [c for c in audit.checks if c.kind == "sdpa"]
    assert len(sdpa) == 12 and sdpa[0].path == "layers.0.attention/sdpa#1"
    assert sdpa[0].macs == 12 * 197 * 197 * 128


def test_bert_activations_are_priced_by_its_weights_not_its_int64_position_ids():
    """BertEmbeddings holds its int64 position_ids and token_type_ids before any weight: a float16 BERT's
    activations are 2 bytes each, not 8."""
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16)
    with torch.device("meta"):
        model = transformers.BertModel(config).half()
    audit = auditor.audit(model, input_shape="1x16:int64")
    assert [p.dtype for p in audit.model.layers[0].params] == ["int64", "int64"]
    assert bytes_per_element(audit.model) == 2
    text = render_audit(audit, "table")
    assert f"{audit.totals.activation_elements:,} values ({bytes_text(2 * audit.totals.activation_elements)} " \
           "at 2 bytes each)" in text


def test_llama_7b_sized_model_on_meta():
    config = transformers.LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    audit = auditor.audit(model, input_shape=(1, 128), dtype="int64")
    assert audit.totals.reported == 6_738_415_616 == sum(p.numel() for p in model.parameters())
    assert audit.totals.mismatches == 0 and audit.totals.unverified == 0


# ---- parameters: buffers, frozen, root-owned, shared modules ----------------------------------------


def test_real_model_is_neither_run_nor_changed():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    audit = auditor.audit(model, input_shape=(2, 3, 16, 16))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert int(model[1].num_batches_tracked) == 0 and all(p.device.type == "cpu" for p in model.parameters())
    bn = audit.checks[1]
    assert (bn.reported, bn.layer.reported_buffers, bn.status) == (16, 17, Status.OK)


def test_frozen_parameters_are_still_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    audit = auditor.audit(model, input_shape=(1, 4))
    assert audit.totals.reported == 15 + 8
    assert (audit.totals.trainable, audit.totals.non_trainable) == (8, 15)
    assert [p.trainable for p in audit.checks[0].layer.params] == [False, False]
    assert all(c.status == Status.OK for c in audit.checks)


class Holder(nn.Module):
    """Owns a bare parameter next to a known child layer (like ViT's cls_token)."""

    def __init__(self):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, 8))
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.proj(torch.cat([self.token.expand(x.shape[0], 1, 8), x], dim=1))


def test_directly_owned_parameters_are_unverified_with_their_count():
    audit = auditor.audit(Holder(), input_shape=(2, 5, 8))
    root = audit.checks[0]
    assert (root.path, root.kind, root.status, root.reported) == ("Holder", "torch:Holder", Status.UNVERIFIED, 8)
    assert audit.totals.reported == 8 + 72 and audit.totals.unverified == 8


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


def test_module_called_twice_counts_once_and_costs_twice():
    audit = auditor.audit(Twice(), input_shape=(1, 4))
    assert [c.path for c in audit.checks] == ["fc", "fc#2"]
    assert audit.checks[1].layer.params[0].shared_with == "fc"
    assert audit.totals.reported == 20 and audit.totals.macs == 32
    assert all(c.status == Status.OK for c in audit.checks)


# ---- operator-level MACs ---------------------------------------------------------------------------


class HandAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.weight = nn.Parameter(torch.zeros(4, 2, 3, 3))

    def forward(self, x, image):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = (q @ k.transpose(-1, -2)).softmax(-1)
        return torch.matmul(scores, v), torch.nn.functional.conv2d(image, self.weight, padding=1)


def test_matmul_and_functional_conv_are_recorded_at_their_module():
    audit = auditor.audit(HandAttention(), example_inputs=(torch.zeros(2, 5, 16), torch.zeros(1, 2, 6, 6)))
    ops = {c.path: c for c in audit.checks if c.kind in ("matmul", "conv_op")}
    assert set(ops) == {"matmul#1", "matmul#2", "conv_op#1"}
    assert ops["matmul#1"].macs == 2 * 5 * 5 * 16 and ops["matmul#2"].macs == 2 * 5 * 16 * 5
    assert ops["conv_op#1"].macs == 36 * 4 * 9 * 2 and ops["conv_op#1"].status == Status.NO_PARAMS
    linear = next(c for c in audit.checks if c.path == "qkv")
    assert linear.macs == 10 * 16 * 48  # its addmm is not recorded a second time


# ---- extension API ---------------------------------------------------------------------------------


class Scaled(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.alpha = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.alpha


class ScaledChild(Scaled):
    pass


def test_register_module_maps_a_class_and_its_subclasses():
    register_module(Scaled, "prelu", lambda m: {"num_parameters": m.n})
    try:
        with pytest.raises(DuplicateModuleError):
            register_module(Scaled, "prelu", lambda m: {})
        audit = auditor.audit(nn.Sequential(Scaled(3), ScaledChild(3)), input_shape=(2, 3))
        assert [(c.kind, c.status) for c in audit.checks] == [("prelu", Status.OK)] * 2
    finally:
        unregister_module(Scaled)
    with pytest.raises(DuplicateModuleError):
        register_module(nn.Linear, "dense", lambda m: {})


# ---- inputs and sources ----------------------------------------------------------------------------


def test_without_inputs_counts_are_still_checked():
    audit = auditor.audit(lasagne_cnn())
    assert audit.totals.reported == 217_706 and audit.totals.mismatches == 0
    assert any("no input_shape" in note for note in audit.model.notes)


def test_failing_forward_is_a_note_not_a_traceback():
    audit = auditor.audit(lasagne_cnn(), input_shape=(1, 3, 28, 28))
    assert audit.totals.reported == 217_706
    assert any("forward pass stopped early" in note for note in audit.model.notes)


@pytest.mark.parametrize("options", [dict(input_shape="1xA"), dict(input_shape=(1, 4), dtype="float99"),
                                     dict(input_shape=(1, 4), input_dtype="int64", dtype="float32")])
def test_bad_options_are_input_errors(options):
    with pytest.raises(InputError):
        auditor.audit(nn.Linear(4, 2), **options)


def test_a_shape_string_reads_as_on_the_command_line_and_several_inputs_get_their_own_dtypes():
    one = auditor.audit(nn.Linear(4, 2), input_shape="1,4")
    assert one.model.input_shapes == [(1, 4)] and one.checks[0].layer.output_shapes == [(1, 2)]

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 4), nn.Linear(4, 2)

        def forward(self, ids, scale):
            return self.fc(self.emb(ids) * scale)

    audit = auditor.audit(TwoInputs(), input_shape="1x3;1x3x1", dtype="int64,float32")
    assert audit.model.input_shapes == [(1, 3), (1, 3, 1)]
    assert [c.layer.output_shapes for c in audit.checks if c.kind in ("embedding", "dense")] == [[(1, 3, 4)], [(1, 3, 2)]]


def test_uninitialised_lazy_module_is_refused_without_inputs():
    """With inputs a lazy module is materialised on meta (tests/adapters/test_torch_structures.py)."""
    with pytest.raises(InputError, match="lazy"):
        auditor.audit(nn.Sequential(nn.LazyLinear(4)))


def test_factory_returning_module_and_inputs(tmp_path, monkeypatch):
    (tmp_path / "torch_factory_mod.py").write_text(textwrap.dedent("""
        import torch
        def build():
            return torch.nn.Embedding(10, 4), (torch.zeros(2, 3, dtype=torch.long),)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        audit = auditor.audit("torch_factory_mod:build")
    finally:
        sys.modules.pop("torch_factory_mod", None)
    assert audit.model.name == "build" and audit.checks[0].layer.output_shapes == [(2, 3, 4)]


def test_pickled_file_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(InputError, match="arbitrary code"):
        auditor.audit(str(path))


def test_torchscript_archive_is_read(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(lasagne_cnn()), str(path))
    audit = auditor.audit(str(path))
    assert audit.totals.reported == 217_706 == audit.model.framework_total


def test_exported_program_is_read(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 5),
                          nn.LayerNorm(5)).eval()
    path = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(1, 1, 8, 8),)), str(path))
    audit = auditor.audit(str(path))
    assert audit.totals.reported == sum(p.numel() for p in model.parameters())
    assert audit.consistent and all(c.status in (Status.OK, Status.NO_PARAMS) for c in audit.checks)
    assert audit.checks[0].layer.output_shapes == [(1, 4, 6, 6)]


# ---- a model on the meta device -------------------------------------------------------------------


class _Caching(nn.Module):
    """A block that keeps its last output on `self` (as some rotary embeddings keep cos/sin tables)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):  # type: ignore[no-untyped-def]
        self.last = self.proj(x)
        return self.last


def test_a_model_on_meta_is_audited_in_place_and_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """No copy of the module tree (meta_copy refuses here), and nothing the forward wrote stays on the model."""
    import adapters.torch_pass

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a model on meta must not be copied")

    monkeypatch.setattr(adapters.torch_pass, "meta_copy", refuse)
    with torch.device("meta"):
        model = nn.Sequential(_Caching(), nn.ReLU(), nn.Linear(8, 3))
    before = {name: id(p) for name, p in model.named_parameters()}
    result = auditor.audit(model, input_shape=(2, 8))
    assert result.totals.reported == result.totals.analytic == 8 * 8 + 8 + 8 * 3 + 3
    assert result.totals.macs == 2 * (8 * 8 + 8 * 3)
    assert any("model's own meta tensors" in n for n in result.model.notes)
    assert not hasattr(model[0], "last")
    assert {name: id(p) for name, p in model.named_parameters()} == before
    assert all(p.device.type == "meta" and type(p) is nn.Parameter for p in model.parameters())



class _CollectorProbe(nn.Module):
    """Notes, each time the pass runs it, whether automatic garbage collection is on."""

    seen: list[bool] = []

    def forward(self, x):  # type: ignore[no-untyped-def]
        import gc

        _CollectorProbe.seen.append(gc.isenabled())
        return x


def test_the_collector_is_paused_while_the_pass_runs_and_put_back_as_it_was() -> None:
    """The pass's short-lived containers are freed as they die instead of being moved into the oldest
    generation (whose growth makes CPython run a full collection); the collector's switch is left as found."""
    import gc

    model = nn.Sequential(nn.Linear(8, 8), _CollectorProbe())
    _CollectorProbe.seen.clear()
    assert auditor.audit(model, input_shape=(2, 8)).totals.macs == 2 * 8 * 8
    assert _CollectorProbe.seen == [False] and gc.isenabled()
    gc.disable()
    try:
        auditor.audit(model, input_shape=(2, 8))
        assert not gc.isenabled()
    finally:
        gc.enable()
