"""TorchScript verified layer by layer: scripted and traced real architectures, as files and in memory.

Every figure is checked against something TorchScript did not compute for us: the module's own
`sum(p.numel())`, and the same model audited as an nn.Module (its meta forward pass) for MACs.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from support import torchscript_models as tm  # noqa: E402
from torch import nn  # noqa: E402

import auditor  # noqa: E402
from adapters.torchscript_archive import is_torchscript  # noqa: E402
from auditor.cli import main  # noqa: E402
from auditor.count import Status  # noqa: E402
from auditor.errors import InputError  # noqa: E402

EXTENSIONS = (".pt", ".pth", ".jit", ".torchscript", "")
PAIRS = [(case, mode) for case in tm.CASES for mode in case.modes]


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """(case, mode) -> (eager model, script module, archive path); each archive gets another extension."""
    pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("torchscript")
    out = {}
    for index, (case, mode) in enumerate(PAIRS):
        torch.manual_seed(index)
        model = case.build()
        script = tm.convert(model, mode, case.inputs())
        path = tm.save(script, folder / f"{case.name}-{mode}{EXTENSIONS[index % len(EXTENSIONS)]}")
        out[(case.name, mode)] = (model, script, path)
    return out


@pytest.fixture(scope="session")
def eager_audits(converted: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """Each architecture audited as the nn.Module it was converted from (the independent MAC figure)."""
    audits = {}
    for case in tm.CASES:
        model = next(v[0] for k, v in converted.items() if k[0] == case.name)
        audits[case.name] = auditor.audit(model, input_shape=list(case.shapes), input_dtype=case.dtype)
    return audits


def _ids(pair: tuple[tm.Case, str]) -> str:
    return f"{pair[0].name}-{pair[1]}"


def _assert_verified(audit: Any, model: nn.Module) -> None:
    total = sum(p.numel() for p in model.parameters())
    assert audit.totals.reported == audit.model.framework_total == total
    assert audit.consistent, [f.message for c in audit.checks for f in c.findings]
    mapped = [c for c in audit.checks if not c.kind.startswith("torch:")]
    assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in mapped), [(c.path, c.status, c.note) for c in mapped]
    assert audit.totals.verified_fraction >= 0.99


@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_archive_is_verified_and_its_macs_equal_the_modules(pair: tuple[tm.Case, str], converted: Any,
                                                            eager_audits: Any) -> None:
    case, mode = pair
    model, _, path = converted[(case.name, mode)]
    assert is_torchscript(str(path)), "recognised by content, whatever the extension"
    audit = auditor.audit(str(path), input_shape=list(case.shapes), input_dtype=case.dtype)
    _assert_verified(audit, model)
    assert audit.model.name == type(model).__name__, "the original class name, not RecursiveScriptModule"
    eager = eager_audits[case.name]
    assert audit.totals.macs == eager.totals.macs > 0
    assert audit.totals.shared == eager.totals.shared
    assert audit.totals.buffers == eager.totals.buffers


@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_in_memory_script_module_is_walked_the_same_way(pair: tuple[tm.Case, str], converted: Any,
                                                        eager_audits: Any) -> None:
    case, mode = pair
    model, script, _ = converted[(case.name, mode)]
    before = {name: t.clone() for name, t in script.state_dict().items()}
    audit = auditor.audit(script, input_shape=list(case.shapes), input_dtype=case.dtype)
    _assert_verified(audit, model)
    assert audit.totals.macs == eager_audits[case.name].totals.macs
    after = script.state_dict()
    assert all(after[name].device.type == "cpu" and torch.equal(after[name], t) for name, t in before.items()), \
        "the user's module is never written to"


def test_layers_carry_the_hyper_parameters_torchscript_kept(converted: Any) -> None:
    """Traced modules keep no attributes: they are recovered from the graph's constants and the weights."""
    for mode in ("script", "trace"):
        _, _, path = converted[("cnn", mode)]
        layers = {c.path: c.layer for c in auditor.audit(str(path), input_shape=(2, 3, 32, 32)).checks}
        stem, depthwise, up, pool = layers["stem.0"], layers["depthwise"], layers["up"], layers["pool"]
        assert (stem.attrs["stride"], stem.attrs["padding"], stem.attrs["use_bias"]) == ((2, 2), [(1, 1)] * 2, False)
        assert (depthwise.attrs["groups"], depthwise.attrs["kernel_size"]) == (16, (5, 5))
        assert (up.kind, up.attrs["in_channels"], up.attrs["out_channels"]) == ("conv_transpose", 16, 8)
        assert (pool.attrs["kernel_size"], pool.attrs["stride"], pool.attrs["padding"]) == ((3, 3), (2, 2), [(1, 1)] * 2)
        assert stem.output_shapes == [(2, 16, 16, 16)] and up.output_shapes == [(2, 8, 32, 32)]
        _, _, path = converted[("recurrent", mode)]
        lstm = next(c.layer for c in auditor.audit(str(path), input_shape=(2, 9), input_dtype="int64").checks
                    if c.path == "lstm")
        assert {k: lstm.attrs[k] for k in ("cell", "num_layers", "bidirectional", "hidden_size", "batch_first")} == \
            {"cell": "lstm", "num_layers": 2, "bidirectional": True, "hidden_size": 48, "batch_first": True}


def test_a_scripted_loop_records_every_step(converted: Any) -> None:
    """CellLoop steps its cells 6 times: the scripted loop gives 6 calls of each, as the module does."""
    _, _, path = converted[("cells", "script")]
    paths = [c.path for c in auditor.audit(str(path), input_shape=(6, 3, 12)).checks]
    assert paths.count("cell") + sum(p.startswith("cell#") for p in paths) == 6
    assert "gcell#6" in paths


def test_traced_attention_is_unverified_and_says_why(tmp_path: Path) -> None:
    model = tm.AttentionBlock()
    case = next(c for c in tm.CASES if c.name == "attention")
    path = tm.save(tm.convert(model, "trace", case.inputs()), tmp_path / "attention.pt")
    audit = auditor.audit(str(path), input_shape=list(case.shapes))
    row = next(c for c in audit.checks if c.path == "attn")
    assert row.status == Status.UNVERIFIED and row.reported == sum(p.numel() for p in model.attn.parameters())
    assert any("attn" in n and "num_heads" in n for n in audit.model.notes), audit.model.notes
    assert audit.totals.reported == sum(p.numel() for p in model.parameters())


def test_without_an_input_shape_macs_are_unknown_not_zero(converted: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, path = converted[("cnn", "script")]
    assert main([str(path)]) == 0
    text = capsys.readouterr().out
    assert "MACs: unknown" in text and "--input-shape" in text and "MACs: 0" not in text
    assert "Activation memory (one forward pass): unknown" in text and "0 values" not in text
    assert main([str(path), "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["macs"] is None and totals["flops"] is None and totals["activation_elements"] is None
    assert totals["shapes_known"] is False and totals["reported"] == 432 + 32 + 2 * (2_304 + 32) + 416 + 520 + 90


def test_folder_scans_find_torchscript_by_content(converted: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("model", "model.jit", "model.torchscript"):
        (folder / name).write_bytes(converted[("cnn", "trace")][2].read_bytes())
    (folder / "notes.txt").write_text("not a model")
    (folder / "weights.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    assert main([str(folder), "--format", "json", "--input-shape", "2x3x32x32"]) == 0
    reports = json.loads(capsys.readouterr().out)["reports"]
    assert [Path(r["model"]["source"]).name for r in reports] == ["model", "model.jit", "model.torchscript"]
    assert all(r["model"]["name"] == "ResidualCNN" and r["totals"]["macs"] > 0 for r in reports)


def test_a_pickled_pt_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(InputError, match="arbitrary code"):
        auditor.audit(str(path))


def test_archive_code_that_touches_files_is_refused_before_loading(tmp_path: Path) -> None:
    """An archive whose code calls torch.save (aten::save) would write files: refused, never loaded."""
    path = tmp_path / "scripted.pt"
    tm.save(torch.jit.script(nn.Linear(2, 2)), path)
    poisoned = tmp_path / "poisoned.pt"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(poisoned, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".py") and b"def forward" in data:
                data = data.replace(b"return", b'torch.save(input, "x.pt")\n    return', 1)
            target.writestr(info, data)
    with pytest.raises(InputError, match="save"):
        auditor.audit(str(poisoned))


CONVS = st.fixed_dictionaries({
    "cin": st.sampled_from([2, 4, 6]), "cout": st.sampled_from([2, 6]), "k": st.integers(1, 4),
    "stride": st.integers(1, 3), "padding": st.integers(0, 2), "dilation": st.integers(1, 2),
    "groups": st.sampled_from([1, 2]), "bias": st.booleans(), "transposed": st.booleans(),
})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conv=CONVS, mode=st.sampled_from(["script", "trace"]), hidden=st.integers(1, 9))
def test_random_convs_and_linears_agree_with_the_module(conv: dict[str, Any], mode: str, hidden: int) -> None:
    """Whatever the hyper-parameters, the TorchScript audit equals the nn.Module audit and torch's numel."""
    make = nn.ConvTranspose2d if conv["transposed"] else nn.Conv2d
    layer = make(conv["cin"], conv["cout"], conv["k"], stride=conv["stride"], padding=conv["padding"],
                 dilation=conv["dilation"], groups=conv["groups"], bias=conv["bias"])
    model = nn.Sequential(layer, nn.Flatten(), nn.LazyLinear(hidden))
    x = torch.randn(1, conv["cin"], 12, 12)
    try:
        model(x)  # materialises the lazy Linear (and rejects hyper-parameters torch itself rejects)
    except RuntimeError:
        return
    script = tm.convert(model, mode, (x,))
    audit, eager = auditor.audit(script, input_shape=(1, conv["cin"], 12, 12)), auditor.audit(model, input_shape=(1, conv["cin"], 12, 12))
    _assert_verified(audit, model)
    assert [c.status for c in audit.checks] == [c.status for c in eager.checks]
    assert audit.totals.macs == eager.totals.macs
    assert audit.checks[0].layer.output_shapes == [tuple(layer(x).shape)]


def test_silero_vad_shipped_by_its_pip_package_is_verified_with_hand_checked_macs() -> None:
    """silero_vad.jit, the TorchScript model the silero-vad package ships (written by Silero, not by us):
    an STFT as a conv over a basis buffer, four Conv1d, an LSTMCell and a 1x1 conv, for 16 kHz and 8 kHz."""
    silero = pytest.importorskip("silero_vad")
    path = Path(silero.__file__).parent / "data" / "silero_vad.jit"
    loaded = torch.jit.load(str(path), map_location="meta")
    audit = auditor.audit(str(path), example_inputs=(torch.zeros(1, 512), 16_000))
    assert audit.model.name == "VADRNNJITMerge" and audit.consistent
    assert audit.totals.reported == sum(p.numel() for p in loaded.parameters()) == 462_594
    assert audit.totals.verified_fraction == 1.0
    assert {c.status for c in audit.checks if not c.kind.startswith("torch:")} <= {Status.OK, Status.NO_PARAMS}
    rows = {c.path: c for c in audit.checks}
    assert rows["_model.decoder.rnn"].layer.attrs["cell"] == "lstm" and "_model.decoder.rnn#2" not in rows
    # one 512-sample window at 16 kHz: STFT (258 filters x 256 taps x 3 frames), then the encoder and decoder
    expected = 258 * 256 * 3 + 128 * 129 * 3 * 3 + 64 * 128 * 3 * 2 + 64 * 64 * 3 + 128 * 64 * 3 + 4 * 128 * 256 + 128
    assert audit.totals.macs == expected == 563_968
