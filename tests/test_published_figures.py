"""Published parameter counts, computed from config.json alone (built on the meta device, nothing
downloaded), and the Llama-2-7B Hub total explained from its checkpoint's headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from support.hub_configs import ACTIVE, CONFIGS, PUBLISHED, write_config  # noqa: E402

import auditor  # noqa: E402
from auditor.cli import main  # noqa: E402
from benchmarks.checkpoint_files import LLAMA2_7B, llama_tensors, write_sharded  # noqa: E402


@pytest.fixture(scope="session")
def config_audits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, auditor.Audit]:
    """Every published config audited once per session (the 70B and Mixtral builds are the slow part)."""
    root = tmp_path_factory.mktemp("configs")
    return {name: auditor.audit(write_config(root / name, name)) for name in CONFIGS}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_totals_from_configs(config_audits: dict[str, auditor.Audit], name: str) -> None:
    report = config_audits[name]
    assert report.totals.reported == PUBLISHED[name]
    assert report.model.framework_total == PUBLISHED[name]


@pytest.mark.slow
def test_dense_configs_are_verified_by_rules(config_audits: dict[str, auditor.Audit]) -> None:
    for name in ("llama-2-7b", "llama-3.1-8b", "gpt2"):
        assert config_audits[name].totals.verified_fraction == 1.0, name
        assert config_audits[name].consistent, name


@pytest.mark.slow
def test_mixtral_from_its_config_uses_its_published_active_parameters_per_token(
        config_audits: dict[str, auditor.Audit]) -> None:
    report = config_audits["mixtral-8x7b"]
    assert report.totals.active == ACTIVE["mixtral-8x7b"]
    assert report.totals.reported - report.totals.active == 32 * 6 * 3 * 4096 * 14336, "6 idle experts a layer"
    assert report.totals.verified_fraction == 1.0 and report.consistent


@pytest.mark.slow
def test_llama2_7b_hub_total_is_the_architecture_plus_32_saved_inv_freq_buffers(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The Hub's 6,738,417,664 = 6,738,415,616 + 32 x 64: the checkpoint keeps one rotary inv_freq per layer."""
    folder = tmp_path / "Llama-2-7b-hf"
    write_config(folder, "llama-2-7b")
    write_sharded(folder, llama_tensors(LLAMA2_7B, inv_freq=True), shards=2)
    capfd.readouterr()
    code = main([str(folder), "--format", "json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == "nn-auditor/checkpoint@1"
    assert document["totals"] == {"architecture": 6_738_415_616, "checkpoint": 6_738_417_664, "delta": 2048,
                                  "explained": 2048, "unexplained": 0}
    (buffers,) = [f for f in document["findings"] if f["code"] == "saved_buffer"]
    assert buffers["amount"] == 32 * 64
    assert buffers["message"].startswith("+2,048 = 32 x model.layers.N.self_attn.rotary_emb.inv_freq (64 each)")
    assert {f["code"] for f in document["findings"]} == {"saved_buffer"}, "float16 as built, nothing else differs"
