"""The PyTorch shape pass on code as people write it: tensors made inside forward, device moves,
data-dependent ops (pack_padded_sequence, masks, .item() branches), unused modules, wrong inputs.
Every MAC figure is checked against a hand formula or FlopCounterMode."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

import auditor  # noqa: E402
from adapters import torch_fallback  # noqa: E402
from auditor.cli import main  # noqa: E402
from auditor.count import Status  # noqa: E402


def stopped(audit) -> list[str]:
    return [n for n in audit.model.notes if "stopped early" in n]


def by_path(audit, path):
    return next(c for c in audit.checks if c.path == path)


class MadeInForward(nn.Module):
    """Tensors created without a device and moved to "cpu" / cuda / x.device inside forward."""

    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.fc = nn.Embedding(100, 16), nn.Embedding(32, 16), nn.Linear(16, 4)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1])
        zeros = torch.zeros(ids.shape[0], ids.shape[1], 16)
        bias = torch.tensor([0.5] * 16).to("cpu")
        h = self.tok(ids) + self.pos(positions) + zeros.to(ids.device) + bias.cpu() + torch.tensor(1.0)
        h = torch.matmul(h, torch.ones(16, 16, device="cpu").cuda())
        return self.fc(h.to(device="cpu", dtype=torch.float32))


def test_tensors_made_and_moved_inside_forward_stay_on_the_pass_device():
    audit = auditor.audit(MadeInForward(), input_shape=(2, 8), input_dtype="int64")
    assert not stopped(audit), audit.model.notes
    assert audit.totals.macs_complete and audit.totals.mismatches == 0
    assert by_path(audit, "matmul#1").macs == 2 * 8 * 16 * 16
    assert by_path(audit, "fc").macs == 2 * 8 * 16 * 4
    assert audit.totals.macs == 2 * 8 * 16 * 16 + 2 * 8 * 16 * 4


class Packed(nn.Module):
    """The usual padded-batch LSTM classifier: pack_padded_sequence in the model's own forward."""

    def __init__(self, hidden=32):
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(50, 8), nn.LSTM(8, hidden, batch_first=True), nn.Linear(hidden, 3)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.head(h[-1])


def test_pack_padded_sequence_runs_for_real_on_the_users_lengths():
    ids, lengths = torch.zeros(3, 7, dtype=torch.long), torch.tensor([7, 4, 2])
    audit = auditor.audit(Packed(), example_inputs=(ids, lengths))
    assert not stopped(audit), audit.model.notes
    rnn = by_path(audit, "rnn")
    assert rnn.layer.input_shapes[0] == (13, 8)  # the packed data: sum(lengths) time steps
    assert rnn.macs == (7 + 4 + 2) * 4 * 32 * (8 + 32)
    assert by_path(audit, "head").macs == 3 * 32 * 3
    assert audit.totals.macs_complete and audit.consistent
    assert any("`(root)` (Packed) could not run on meta (aten._pack_padded_sequence" in n for n in audit.model.notes)


def test_a_module_too_large_to_run_stops_the_pass_with_the_op_and_module_named(monkeypatch):
    monkeypatch.setattr(torch_fallback, "REAL_RUN_LIMIT", 0)
    ids, lengths = torch.zeros(3, 7, dtype=torch.long), torch.tensor([7, 4, 2])
    audit = auditor.audit(Packed(), example_inputs=(ids, lengths))
    (note,) = stopped(audit)
    assert "in the model's own forward at aten._pack_padded_sequence (pack_padded_sequence" in note
    assert by_path(audit, "emb").layer.output_shapes == [(3, 7, 8)]  # before the stop: counted
    assert by_path(audit, "rnn").macs is None and by_path(audit, "rnn").layer.called is None
    assert not audit.totals.macs_complete and audit.totals.unknown_macs_layers == 2
    assert audit.model.shapes_missing.startswith("forward pass stopped early in the model's own forward")
    assert audit.totals.reported == sum(p.numel() for p in Packed().parameters())


class Branchy(nn.Module):
    """`.item()` deciding a branch, inside a submodule; layers before and after it."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        return self.a(x) if x.mean().item() > -1e9 else self.b(x)


class WithBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.before, self.branch, self.after = nn.Linear(4, 8), Branchy(), nn.Linear(8, 2)

    def forward(self, x):
        return self.after(self.branch(self.before(x)))


def test_item_in_a_branch_runs_that_small_module_for_real():
    audit = auditor.audit(WithBranch(), input_shape=(5, 4))
    assert not stopped(audit), audit.model.notes
    assert [by_path(audit, p).macs for p in ("before", "branch.a", "after")] == [5 * 4 * 8, 5 * 8 * 8, 5 * 8 * 2]
    assert by_path(audit, "branch.b").layer.called is False  # the branch not taken is unused: 0 MACs
    assert audit.totals.macs == 5 * 4 * 8 + 5 * 8 * 8 + 5 * 8 * 2 and audit.totals.macs_complete
    assert any("`branch` (Branchy) could not run on meta (aten._local_scalar_dense" in n for n in audit.model.notes)


def test_item_in_a_large_module_stops_there_and_keeps_the_layers_before(monkeypatch):
    monkeypatch.setattr(torch_fallback, "REAL_RUN_LIMIT", 0)
    audit = auditor.audit(WithBranch(), input_shape=(5, 4))
    (note,) = stopped(audit)
    assert "in `branch` at aten._local_scalar_dense (.item()" in note
    assert by_path(audit, "before").macs == 5 * 4 * 8
    assert by_path(audit, "after").macs is None and not audit.totals.macs_complete


class Masked(nn.Module):
    """A boolean mask selects rows (nonzero underneath): a data-dependent size."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)

    def forward(self, x):
        rows = x[x.sum(-1) > 0]
        return self.proj(rows).sum(0)


def test_boolean_mask_rows_come_from_a_real_run_and_their_macs_match_the_shape():
    model = nn.Sequential(nn.Linear(6, 6), Masked(), nn.Linear(6, 3))
    audit = auditor.audit(model, input_shape=(40, 6))
    assert not stopped(audit), audit.model.notes
    proj = by_path(audit, "1.proj")
    rows = proj.layer.input_shapes[0][0]
    assert 0 <= rows <= 40 and proj.macs == rows * 6 * 6
    assert by_path(audit, "0").macs == 40 * 36 and by_path(audit, "2").macs == 6 * 3


class WithSpare(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.spare = nn.Linear(4, 4), nn.Linear(4, 100)

    def forward(self, x):
        return self.used(x)


def test_a_module_forward_never_calls_is_unused_and_the_mac_total_stays_exact(capsys):
    from torch.utils.flop_counter import FlopCounterMode

    model = WithSpare()
    audit = auditor.audit(model, input_shape=(3, 4))
    spare = by_path(audit, "spare")
    assert spare.layer.called is False and spare.macs == 0 and "unused" in spare.note and spare.status == Status.OK
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(3, 4))
    assert audit.totals.macs == counter.get_total_flops() // 2 == 3 * 4 * 4
    assert audit.totals.macs_complete and audit.totals.unused_layers == 1
    assert any("1 layer(s) are unused: forward never called them" in n for n in audit.model.notes)


def test_a_wrong_input_shape_is_confirmed_on_real_tensors():
    audit = auditor.audit(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)), input_shape=(2, 5))
    (note,) = stopped(audit)
    assert "(it fails on real tensors too)" in note and "mat1 and mat2" in note


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "pass_factories.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Stuck(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc, self.out = nn.Linear(4, 4), nn.Linear(4, 2)

            def forward(self, x):
                return self.out(self.fc(x)[: int(x.sum().item() > 0) + 1])

        def stuck():
            return Stuck()

        def spare():
            return nn.ModuleDict({"a": nn.Linear(4, 4)}), torch.zeros(1, 4)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("pass_factories", None)


def test_cli_says_macs_are_incomplete_and_strict_fails(factories, monkeypatch, capsys):
    monkeypatch.setattr(torch_fallback, "REAL_RUN_LIMIT", 0)
    assert main(["pass_factories:stuck", "--input-shape", "3x4"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("MACs")]
    assert "(incomplete: 1 of 2 layers have unknown MACs: forward pass stopped early in the model's own forward at" in line
    assert main(["pass_factories:stuck", "--input-shape", "3x4", "--strict"]) == 1
    capsys.readouterr()
    assert main(["pass_factories:stuck", "--input-shape", "3x4", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["macs_complete"] is False and report["macs_incomplete"].startswith("1 of 2 layers")
    assert [row["macs"] for row in report["layers"]] == [12 * 4, None]


# ---- plain meta first, FakeTensorMode only when it stops ----------------------------------------------


def _tiny_transformers():
    transformers = pytest.importorskip("transformers")
    small = dict(hidden_size=32, num_attention_heads=4, intermediate_size=48, vocab_size=100)
    return {
        "llama-on-meta": (transformers.LlamaForCausalLM, transformers.LlamaConfig(
            **small, num_hidden_layers=2, num_key_value_heads=2, use_cache=False), "meta"),
        "mixtral-on-meta": (transformers.MixtralForCausalLM, transformers.MixtralConfig(
            **small, num_hidden_layers=2, num_key_value_heads=2, num_local_experts=4, use_cache=False), "meta"),
        "bert": (transformers.BertModel, transformers.BertConfig(**small, num_hidden_layers=2), "cpu"),
        "gpt2": (transformers.GPT2LMHeadModel, transformers.GPT2Config(
            n_embd=32, n_head=4, n_layer=2, vocab_size=100, use_cache=False), "cpu"),
    }


def _rows(audit):
    return [(c.path, c.kind, c.status, c.reported, c.analytic, c.macs, c.layer.output_shapes) for c in audit.checks]


@pytest.mark.parametrize("name", ["llama-on-meta", "mixtral-on-meta", "bert", "gpt2"])
def test_the_plain_meta_pass_reports_what_the_fake_tensor_pass_reports(name, monkeypatch):
    """transformers reads mask values (`.item()`) unless it is being traced: the plain pass runs as torch.export
    traces, and must see the model exactly as the FakeTensorMode pass (the one that runs when it stops) does."""
    import contextlib

    from torch._subclasses.fake_tensor import FakeTensorMode

    from adapters import torch_pass

    cls, config, device = _tiny_transformers()[name]
    with torch.device(device):
        model = cls(config)
    plain = auditor.audit(model, input_shape=(2, 8), input_dtype="int64")
    assert plain.model.notes[0].startswith("shapes and MACs from one forward pass on"), plain.model.notes
    assert not any("FakeTensorMode" in n or "stopped" in n for n in plain.model.notes), plain.model.notes
    monkeypatch.setattr(torch_pass, "tracing", contextlib.nullcontext)  # model code sees an untraced run
    with FakeTensorMode(allow_non_fake_inputs=True):  # as the pass after a stopped plain one runs
        fake = auditor.audit(model, input_shape=(2, 8), input_dtype="int64")
    assert _rows(plain) == _rows(fake)
    assert plain.totals.macs_complete and plain.totals.macs == fake.totals.macs > 0


def test_a_plain_pass_that_stops_is_run_again_under_fake_tensors_and_says_why(monkeypatch):
    import contextlib

    import torch.compiler

    from adapters import torch_pass

    monkeypatch.setattr(torch_pass, "tracing", contextlib.nullcontext)  # transformers reads its mask's values
    transformers = pytest.importorskip("transformers")
    cls, config, device = _tiny_transformers()["llama-on-meta"]
    with torch.device(device):
        model = cls(config)
    audit = auditor.audit(model, input_shape=(2, 8), input_dtype="int64")
    assert audit.model.notes[0].startswith(
        "shapes and MACs from one forward pass on the model's own meta tensors (nothing copied or allocated), "
        "under FakeTensorMode: the pass on plain meta tensors stopped (in `model` at "
        "aten._local_scalar_dense (.item() or a Python number read from a tensor)"), audit.model.notes
    assert audit.totals.macs_complete and audit.totals.mismatches == 0 and isinstance(model, transformers.PreTrainedModel)
    assert torch.compiler.is_compiling() is False


def test_the_tracing_flag_is_put_back_after_a_pass_that_fails():
    import torch.compiler

    audit = auditor.audit(WithBranch(), input_shape=(5, 4))
    assert any("under FakeTensorMode" in n for n in audit.model.notes)
    assert torch.compiler.is_compiling() is False


class _Passthrough(torch.utils._python_dispatch.TorchDispatchMode):
    """A dispatch mode of the model's own."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class OwnModes(nn.Module):
    """Model code with its own dispatch mode around a layer, a layer failure it catches itself, then a matmul."""

    def __init__(self):
        super().__init__()
        self.fc, self.bad, self.out = nn.Linear(4, 4), nn.Linear(3, 3), nn.Linear(4, 2)

    def forward(self, x):
        with _Passthrough():
            h = self.fc(x)
        with _Passthrough():
            h = torch.matmul(h, h.transpose(-1, -2)) @ h
        try:
            self.bad(h)
        except RuntimeError:
            pass
        return self.out(torch.mm(h, h.t()) @ h)


class LateFailure(nn.Module):
    """A layer runs, then the model's own code raises after an op failed inside it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        if h.shape[-1] == 4:
            raise ValueError("the model's own check")
        return h


class Opens(nn.Linear):
    """A layer that leaves a dispatch mode of its own on for the model to close."""

    def forward(self, x):
        self.mode = _Passthrough()
        self.mode.__enter__()
        return super().forward(x)


class ClosesLater(nn.Module):
    def __init__(self):
        super().__init__()
        self.opens, self.out = Opens(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.opens(x)
        self.opens.mode.__exit__(None, None, None)
        return self.out(torch.mm(h, h.t()) @ h)


PAUSE_CASES = {
    "mode-left-on": (ClosesLater, {"input_shape": (3, 4)}),
    "own-modes": (OwnModes, {"input_shape": (3, 4)}),
    "late-failure": (LateFailure, {"input_shape": (3, 4)}),
    "wrong-input": (lambda: nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)), {"input_shape": (2, 5)}),
    "made-in-forward": (MadeInForward, {"input_shape": (2, 8), "input_dtype": "int64"}),
    "packed": (Packed, {"example_inputs": (torch.zeros(3, 7, dtype=torch.int64), torch.tensor([7, 5, 2]))}),
}


@pytest.mark.parametrize("name", PAUSE_CASES)
def test_the_dispatch_recorder_stepping_off_inside_layers_changes_nothing(name, monkeypatch):
    """The IR (shapes, operators, notes, where and at which op a pass stopped) is the one a pass with the
    dispatch recorder on all the way gives: `RecorderPause` must be unobservable."""
    import re

    import adapters.torch_trace
    from adapters.torch import from_module

    build, options = PAUSE_CASES[name]
    torch.manual_seed(0)
    paused = from_module(build(), **options)

    class Never(adapters.torch_trace.RecorderPause):
        def follow(self, recording: bool) -> None:
            return

    monkeypatch.setattr(adapters.torch_trace, "RecorderPause", Never)
    torch.manual_seed(0)
    on = from_module(build(), **options)
    assert re.sub(r"0x[0-9a-f]+", "", repr(paused)) == re.sub(r"0x[0-9a-f]+", "", repr(on))
