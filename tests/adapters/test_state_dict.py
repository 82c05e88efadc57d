"""PyTorch state dicts written by torch.save: read with weights_only=True on the meta device, no code
run, no data read; a pickled module is refused with the global it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import auditor  # noqa: E402
from auditor.errors import InputError  # noqa: E402


class Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(20, 6)
        self.norm = torch.nn.BatchNorm1d(6)
        self.head = torch.nn.Linear(6, 20, bias=False)
        self.head.weight = self.embed.weight


def test_a_state_dict_counts_like_the_module_and_keeps_tied_weights_once(tmp_path: Path) -> None:
    model = Tied()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    report = auditor.audit(tmp_path / "pytorch_model.bin")
    assert report.totals.reported == sum(p.numel() for p in model.parameters()) == 20 * 6 + 12
    assert report.totals.buffers == 6 + 6 + 1
    assert report.totals.shared == 120, "head.weight is the same storage as embed.weight"
    assert report.model.tensors["head.weight"].shared_with == "embed"
    assert report.model.framework == "state_dict"


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_pt_and_pth_state_dicts_and_training_checkpoints(tmp_path: Path, suffix: str) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    path = tmp_path / f"ckpt{suffix}"
    torch.save({"epoch": 3, "state_dict": model.state_dict(), "lr": 0.1}, path)
    report = auditor.audit(path)
    assert report.totals.reported == 4 * 3 + 3 + 3 * 2 + 2
    assert any("'state_dict' entry" in n for n in report.model.notes)


def test_a_legacy_pickle_state_dict_is_read_without_its_data(tmp_path: Path) -> None:
    model = torch.nn.Linear(5, 7)
    torch.save(model.state_dict(), tmp_path / "old.bin", _use_new_zipfile_serialization=False)
    report = auditor.audit(tmp_path / "old.bin")
    assert report.totals.reported == 42 and "legacy pickle" in report.model.notes[0]


def test_a_pickled_module_renamed_bin_is_refused_with_the_reason(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.bin")
    with pytest.raises(InputError, match=r"it pickles torch\.nn\.modules\.linear\.Linear.*unpickling it can run"):
        auditor.audit(tmp_path / "model.bin")


def test_a_text_file_named_bin_is_an_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01 raw float data, e.g. ONNX external data")
    with pytest.raises(InputError, match="unknown model format"):
        auditor.audit(tmp_path / "weights.bin")


def test_a_sharded_pytorch_checkpoint_and_its_folder(tmp_path: Path) -> None:
    """pytorch_model.bin.index.json names .bin shards, as older save_pretrained wrote them."""
    import json

    first, second = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    torch.save({f"a.{k}": v for k, v in first.state_dict().items()}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({f"b.{k}": v for k, v in second.state_dict().items()}, tmp_path / "pytorch_model-00002-of-00002.bin")
    weight_map = {**{f"a.{k}": "pytorch_model-00001-of-00002.bin" for k in first.state_dict()},
                  **{f"b.{k}": "pytorch_model-00002-of-00002.bin" for k in second.state_dict()}}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    for target in (tmp_path / "pytorch_model.bin.index.json", tmp_path):
        report = auditor.audit(target)
        assert report.totals.reported == 15 + 8 and report.model.framework == "state_dict"
