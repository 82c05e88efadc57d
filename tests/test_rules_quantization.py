"""Packing rules of quantized checkpoints, hand-computed, and quantized layouts written by hand as
safetensors files: the logical count next to the stored elements and bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.rules import RuleError
from auditor.rules.quantization import awq_weight, bnb_4bit_weight, gguf_bytes, gptq_weight

IN, OUT, GROUP = 4096, 4096, 128


def test_gptq_qweight_packs_eight_4bit_weights_per_int32_along_the_input() -> None:
    unpacked = gptq_weight((IN // 8, OUT), (IN // GROUP, OUT // 8), (IN // GROUP, OUT))
    assert unpacked.shape == (OUT, IN) and unpacked.bits == 4 and unpacked.numel == 16_777_216
    assert unpacked.formula == "qweight 512x4096 int32 -> 4096x4096 = 16,777,216 4-bit weights (8 per word)"


def test_gptq_bits_follow_the_zero_points_packing() -> None:
    unpacked = gptq_weight((IN * 3 // 32, 1024), (IN // GROUP, 1024 * 3 // 32), (IN // GROUP, 1024))
    assert unpacked.bits == 3 and unpacked.shape == (1024, IN)
    assert gptq_weight((IN // 4, 1024), (32, 1024 // 4), (32, 1024)).bits == 8


def test_awq_packs_along_the_output() -> None:
    unpacked = awq_weight((IN, 1024 // 8), (IN // GROUP, 1024 // 8), (IN // GROUP, 1024))
    assert unpacked.shape == (1024, IN) and unpacked.numel == 4_194_304


def test_inconsistent_packings_are_rule_errors() -> None:
    with pytest.raises(RuleError):
        gptq_weight((512, 4096), (32, 512), (32, 1000))
    with pytest.raises(RuleError):
        gptq_weight((512, 4096), (32, 100), (32, 4096))  # 32*100/4096 is no bit width


def test_bnb_4bit_is_two_values_per_byte_and_gguf_bytes_follow_the_block_table() -> None:
    assert bnb_4bit_weight((8_388_608, 1)).numel == 16_777_216
    stored, formula = gguf_bytes((4096, 4096), "Q4_K", 256, 144)
    assert stored == 4096 * 4096 // 256 * 144 == 9_437_184
    assert formula.endswith("= 9,437,184 bytes (4.50 bits per weight)")
    with pytest.raises(RuleError):
        gguf_bytes((10, 100), "Q4_K", 256, 144)


# ---- quantized layouts as checkpoints ------------------------------------------------------------------

torch = pytest.importorskip("torch")
st = pytest.importorskip("safetensors.torch")

import auditor  # noqa: E402


def _audit(tmp_path: Path, tensors: dict[str, object]) -> auditor.Audit:
    st.save_file(tensors, str(tmp_path / "q.safetensors"))
    return auditor.audit(tmp_path / "q.safetensors")


def _zeros(*shape: int, dtype: object = None) -> object:
    return torch.zeros(*shape, dtype=dtype or torch.float16)


def test_a_gptq_layer_counts_its_logical_weights(tmp_path: Path) -> None:
    n_in, n_out, group = 256, 512, 64
    report = _audit(tmp_path, {
        "q_proj.qweight": _zeros(n_in // 8, n_out, dtype=torch.int32),
        "q_proj.qzeros": _zeros(n_in // group, n_out // 8, dtype=torch.int32),
        "q_proj.scales": _zeros(n_in // group, n_out), "q_proj.g_idx": _zeros(n_in, dtype=torch.int32),
        "q_proj.bias": _zeros(n_out)})
    (check,) = report.checks
    assert check.kind == "dense" and check.layer.attrs["quantization"] == "gptq"
    assert report.totals.reported == n_in * n_out + n_out
    state = n_in // group * n_out // 8 + n_in // group * n_out + n_in
    assert report.totals.stored_elements == n_in // 8 * n_out + n_out + state
    assert report.totals.param_bytes == 4 * (n_in // 8 * n_out) + 2 * n_out + 4 * (n_in // group * n_out // 8) \
        + 2 * (n_in // group * n_out) + 4 * n_in
    assert check.formula == "(256+1)*512 = 131,584"


def test_an_awq_layer(tmp_path: Path) -> None:
    report = _audit(tmp_path, {"fc.qweight": _zeros(256, 64, dtype=torch.int32),
                               "fc.qzeros": _zeros(2, 64, dtype=torch.int32), "fc.scales": _zeros(2, 512)})
    assert report.checks[0].layer.attrs["quantization"] == "awq"
    assert report.totals.reported == 256 * 512


def test_bitsandbytes_4bit_and_8bit_and_fp8_layers(tmp_path: Path) -> None:
    report = _audit(tmp_path, {
        "a.weight": _zeros(2048, 1, dtype=torch.uint8), "a.weight.absmax": _zeros(64, dtype=torch.float32),
        "a.weight.quant_map": _zeros(16, dtype=torch.float32),
        "a.weight.quant_state.bitsandbytes__nf4": _zeros(120, dtype=torch.uint8),
        "b.weight": _zeros(64, 32, dtype=torch.int8), "b.SCB": _zeros(64, dtype=torch.float32),
        "c.weight": _zeros(64, 32).to(torch.float8_e4m3fn), "c.weight_scale_inv": _zeros(1, 1, dtype=torch.float32)})
    checks = {c.path: c for c in report.checks}
    assert {p: c.layer.attrs.get("quantization") for p, c in checks.items()} == {
        "a": "bnb_4bit", "b": "bnb_8bit", "c": "fp8"}
    assert report.totals.reported == 4096 + 64 * 32 + 64 * 32
    assert report.totals.stored_elements == 2048 + 64 + 16 + 120 + 64 * 32 + 64 + 64 * 32 + 1
    packing = checks["a"].layer.params[0].packing
    assert packing is not None and packing.formula == "weight 2048x1 uint8 -> 4,096 4-bit weights (2 per byte)"
