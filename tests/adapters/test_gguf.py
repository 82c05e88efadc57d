"""GGUF files written by the gguf package's own writer: logical counts from dims, stored bytes from
gguf's block table, architecture metadata shown; bad files are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

import auditor  # noqa: E402
from auditor.errors import InputError  # noqa: E402

Q = gguf.GGMLQuantizationType


def _raw_blocks(rows: int, cols: int, kind: object) -> object:
    """Zero bytes of the size gguf's table gives for rows x cols weights of `kind` (no real quantization needed)."""
    block, size = gguf.GGML_QUANT_SIZES[kind]
    return np.zeros((rows, cols // block * size), dtype=np.uint8)


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_block_count(1)
    writer.add_context_length(2048)
    writer.add_embedding_length(256)
    writer.add_head_count(8)
    writer.add_head_count_kv(2)
    writer.add_token_list([f"t{i}" for i in range(100)])
    writer.add_tensor("token_embd.weight", np.zeros((100, 256), dtype=np.float16))
    q8 = gguf.quants.quantize(np.random.default_rng(0).random((512, 256), dtype=np.float32), Q.Q8_0)
    writer.add_tensor("blk.0.ffn_up.weight", q8, raw_dtype=Q.Q8_0)
    writer.add_tensor("blk.0.attn_q.weight", _raw_blocks(256, 256, Q.Q4_K), raw_dtype=Q.Q4_K)
    writer.add_tensor("blk.0.attn_norm.weight", np.zeros(256, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_counts_logical_weights_and_stored_bytes_from_the_block_table(small_gguf: Path) -> None:
    report = auditor.audit(small_gguf)
    checks = {c.path: c for c in report.checks}
    assert {p: c.kind for p, c in checks.items()} == {
        "token_embd": "embedding", "blk.0.ffn_up": "dense", "blk.0.attn_q": "dense", "blk.0.attn_norm": "rms_norm"}
    assert checks["blk.0.ffn_up"].layer.attrs == {"in_features": 256, "out_features": 512, "use_bias": False}
    assert report.totals.reported == 100 * 256 + 512 * 256 + 256 * 256 + 256
    q4_block, q4_size = gguf.GGML_QUANT_SIZES[Q.Q4_K]
    q8_block, q8_size = gguf.GGML_QUANT_SIZES[Q.Q8_0]
    assert report.totals.bytes_by_dtype == {
        "float16": 100 * 256 * 2, "float32": 256 * 4,
        "Q8_0": 512 * 256 // q8_block * q8_size, "Q4_K": 256 * 256 // q4_block * q4_size}
    assert (q4_block, q4_size) == (256, 144), "Q4_K: 256 weights in 144 bytes (4.5 bits per weight)"
    formulas = [p.packing.formula for c in report.checks for p in c.layer.params if p.packing]
    assert "256x256 = 65,536 Q4_K weights in 256 blocks of 256 x 144 bytes = 36,864 bytes (4.50 bits per weight)" in formulas


def test_gguf_architecture_metadata_is_shown(small_gguf: Path) -> None:
    report = auditor.audit(small_gguf)
    assert report.model.name == "tiny"
    assert report.model.metadata["llama.attention.head_count_kv"] == 2
    assert report.model.metadata["tokenizer.ggml.tokens"] == "array of 100"
    assert any("context_length 2048" in n and "attention.head_count 8" in n for n in report.model.notes)


def test_bad_gguf_files_are_one_clear_error(tmp_path: Path, small_gguf: Path) -> None:
    bad_magic = tmp_path / "bad.gguf"
    bad_magic.write_bytes(b"GGUX" + small_gguf.read_bytes()[4:])
    with pytest.raises(InputError, match="not a readable GGUF file.*magic"):
        auditor.audit(bad_magic)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(small_gguf.read_bytes()[:-4000])
    with pytest.raises(InputError, match="not a readable GGUF file"):
        auditor.audit(cut)


def test_a_gguf_checkpoint_pairs_with_its_config_through_ggufs_name_table(tmp_path: Path) -> None:
    """llama.cpp names (`blk.0.attn_q.weight`) are read as transformers names, so every tensor pairs."""
    import json

    pytest.importorskip("transformers")
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 100, "torch_dtype": "float16"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    writer = gguf.GGUFWriter(str(tmp_path / "model.gguf"), "llama")
    writer.add_block_count(2)
    shapes = {"token_embd.weight": (100, 64), "output_norm.weight": (64,), "output.weight": (100, 64)}
    for i in range(2):
        shapes.update({f"blk.{i}.attn_q.weight": (64, 64), f"blk.{i}.attn_k.weight": (32, 64),
                       f"blk.{i}.attn_v.weight": (32, 64), f"blk.{i}.attn_output.weight": (64, 64),
                       f"blk.{i}.ffn_gate.weight": (128, 64), f"blk.{i}.ffn_up.weight": (128, 64),
                       f"blk.{i}.ffn_down.weight": (64, 128), f"blk.{i}.attn_norm.weight": (64,),
                       f"blk.{i}.ffn_norm.weight": (64,)})
    for name, shape in shapes.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    result = auditor.compare_checkpoint(tmp_path / "config.json", tmp_path / "model.gguf")
    assert [r.status for r in result.rows] == ["match"] * len(shapes)
    assert result.findings == [] and result.delta == 0 and not result.differs
