"""safetensors checkpoints, read from their headers: files written by the safetensors package and by
transformers' save_pretrained, a Llama-2-70B-shaped sharded checkpoint over sparse files, bad headers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import auditor  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from benchmarks.checkpoint_files import (  # noqa: E402
    LLAMA2_70B,
    Spec,
    bytes_read,
    llama_tensors,
    write_safetensors,
    write_sharded,
)

LLAMA2_70B_TOTAL = 68_976_648_192


def _save(path: Path, tensors: dict[str, object]) -> Path:
    safetensors_torch.save_file(tensors, str(path), metadata={"format": "pt"})
    return path


def test_a_file_written_by_safetensors_counts_every_tensor_and_its_bytes_per_dtype(tmp_path: Path) -> None:
    tensors = {
        "embed.weight": torch.zeros(50, 8, dtype=torch.bfloat16),
        "fc.weight": torch.zeros(3, 8), "fc.bias": torch.zeros(3),
        "conv.weight": torch.zeros(4, 2, 3, 3, dtype=torch.float16), "conv.bias": torch.zeros(4, dtype=torch.float16),
        "bn.weight": torch.zeros(4), "bn.bias": torch.zeros(4), "bn.running_mean": torch.zeros(4),
        "bn.running_var": torch.zeros(4), "bn.num_batches_tracked": torch.zeros((), dtype=torch.int64),
        "norm.weight": torch.zeros(8), "mask": torch.zeros(6, dtype=torch.bool),
        "fp8.weight": torch.zeros(4, 4).to(torch.float8_e4m3fn),
    }
    report = auditor.audit(_save(tmp_path / "m.safetensors", tensors))
    kinds = {c.path: c.kind for c in report.checks}
    assert kinds == {"bn": "batch_norm", "conv": "conv", "embed": "embedding", "fc": "dense", "fp8": "dense",
                     "norm": "rms_norm", "(root)": "tensors"}
    buffers = 4 + 4 + 1
    assert report.totals.buffers == buffers
    assert report.totals.reported == sum(t.numel() for t in tensors.values()) - buffers
    assert report.totals.bytes_by_dtype == {
        "bfloat16": 50 * 8 * 2, "float16": (4 * 2 * 9 + 4) * 2, "float32": (3 * 8 + 3 + 4 * 4 + 8) * 4, "int64": 8,
        "bool": 6, "float8_e4m3fn": 16}
    assert report.totals.param_bytes == sum(t.numel() * t.element_size() for t in tensors.values())
    assert all(c.status == "unverified" for c in report.checks), "a checkpoint alone proves no hyper-parameter"
    assert report.consistent
    conv = next(c for c in report.checks if c.path == "conv")
    assert conv.layer.attrs["kernel_size"] == (3, 3) and conv.formula == "(3*3*2+1)*4 = 76"


def test_a_bias_that_does_not_fit_its_weight_is_a_mismatch(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.safetensors", {"fc.weight": torch.zeros(3, 8), "fc.bias": torch.zeros(5)})
    report = auditor.audit(path)
    (check,) = report.checks
    assert check.status == "mismatch" and not report.consistent


def test_gpt2_conv1d_weights_are_read_in_their_in_out_layout(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.safetensors", {"h.0.attn.c_attn.weight": torch.zeros(8, 24),
                                              "h.0.attn.c_attn.bias": torch.zeros(24),
                                              "h.0.attn.bias": torch.zeros(1, 1, 4, 4)})
    checks = {c.path: c for c in auditor.audit(path).checks}
    assert checks["h.0.attn.c_attn"].layer.attrs == {"in_features": 8, "out_features": 24, "use_bias": True}
    assert checks["h.0.attn"].layer.reported_buffers == 16, "GPT-2's causal-mask 'bias' is a buffer"


def test_a_sharded_checkpoint_saved_by_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                      num_attention_heads=4, vocab_size=256)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(tmp_path / "hub", max_shard_size="100KB")
    index = tmp_path / "hub" / "model.safetensors.index.json"
    shards = set(json.loads(index.read_text())["weight_map"].values())
    assert len(shards) > 1, "save_pretrained wrote one file: the shard size is too large for this test"
    report = auditor.audit(index)
    assert report.totals.reported == sum(p.numel() for p in model.parameters())
    assert report.model.framework == "safetensors" and f"{len(shards)} shard(s)" in report.model.notes[0]
    assert auditor.audit(tmp_path / "hub" / sorted(shards)[0]).totals.reported < report.totals.reported


@pytest.fixture(scope="session")
def llama70b_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Llama-2-70B's 723 tensors in 15 shards: real headers, data as sparse files (a few hundred KB of disk)."""
    return write_sharded(tmp_path_factory.mktemp("llama70b"), llama_tensors(LLAMA2_70B), shards=15)


def test_llama2_70b_sharded_checkpoint_matches_the_published_count_reading_headers_only(
        llama70b_index: tuple[Path, int]) -> None:
    index, header_bytes = llama70b_index
    import adapters.safetensors_file  # noqa: F401  (imports are not reads of the checkpoint)
    import adapters.sharded  # noqa: F401

    before = bytes_read()
    report = auditor.audit(index)
    read = bytes_read() - before
    assert report.totals.reported == LLAMA2_70B_TOTAL
    assert report.totals.param_bytes == 2 * LLAMA2_70B_TOTAL
    assert len(report.model.tensors) == 723
    assert read < header_bytes + index.stat().st_size + 64 * 1024, f"read {read:,} bytes, headers are {header_bytes:,}"
    assert sum(p.stat().st_size for p in index.parent.glob("*.safetensors")) == 2 * LLAMA2_70B_TOTAL + header_bytes


def test_the_sparse_headers_are_what_the_safetensors_library_reads(llama70b_index: tuple[Path, int]) -> None:
    from safetensors import safe_open

    index, _ = llama70b_index
    shard = sorted(index.parent.glob("*.safetensors"))[3]
    ours = auditor.audit(shard).model.tensors
    with safe_open(str(shard), "pt") as handle:
        theirs = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
    assert {name: t.shape for name, t in ours.items()} == theirs


def _header(path: Path, header: dict[str, object], data: int, claim: int | None = None) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes((claim if claim is not None else len(raw)).to_bytes(8, "little") + raw + b"\0" * data)
    return path


BAD_HEADERS = {
    "unknown-dtype": ({"t": {"dtype": "F13", "shape": [2], "data_offsets": [0, 4]}}, 4, "unknown dtype 'F13'"),
    "size-mismatch": ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, 4, "takes 8 bytes"),
    "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, 12, "overlap"),
    "gap": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, 8, "belong to no tensor"),
    "outside-file": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8, "holds only 8 bytes"),
    "negative-dim": ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, 0, "non-negative"),
    "not-an-object": ([1, 2], 0, "does not start with"),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_headers_are_one_clear_error(tmp_path: Path, case: str) -> None:
    header, data, message = BAD_HEADERS[case]
    path = _header(tmp_path / "bad.safetensors", header, data)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        auditor.audit(path)


def test_a_huge_header_claim_is_refused_before_reading(tmp_path: Path) -> None:
    path = _header(tmp_path / "huge.safetensors", {}, 0, claim=2**30)
    with pytest.raises(InputError, match="1,073,741,824 bytes, more than"):
        auditor.audit(path)
    path = _header(tmp_path / "long.safetensors", {}, 0, claim=5000)
    with pytest.raises(InputError, match="only 2 follow"):
        auditor.audit(path)


def test_an_index_naming_a_shard_outside_its_folder_or_a_tensor_the_shard_lacks_is_refused(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "a.safetensors", [Spec("x.weight", (2, 2))])
    for weight_map, message in (({"x.weight": "../a.safetensors"}, "outside the model's folder"),
                                ({"x.weight": "b.safetensors"}, "missing"),
                                ({"x.weight": "a.safetensors", "y.weight": "a.safetensors"}, "does not hold it")):
        index = tmp_path / "model.safetensors.index.json"
        index.write_text(json.dumps({"weight_map": weight_map}))
        with pytest.raises(InputError, match=message):
            auditor.audit(index)


def test_sub_byte_dtypes_take_their_bits(tmp_path: Path) -> None:
    path = _header(tmp_path / "f4.safetensors", {"w.weight": {"dtype": "F4", "shape": [4, 8], "data_offsets": [0, 16]}}, 16)
    report = auditor.audit(path)
    assert report.totals.reported == 32 and report.totals.param_bytes == 16 == math.prod((4, 8)) // 2
