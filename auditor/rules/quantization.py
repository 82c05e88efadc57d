"""Quantized storage: how many logical weights a packed tensor holds, and what the packing costs.

The one home of every packing rule nn-auditor knows, each with the formula a person would write.
A quantized checkpoint stores a layer's weight in containers (int32 words, uint8 bytes, GGUF
blocks) plus quantization state (scales, zero points, group indices) that is no parameter of the
model; the logical parameter count is the unpacked weight's, e.g.
"qweight 512x4096 int32 -> 4096x4096 = 16,777,216 4-bit weights".

- GPTQ: qweight (in*bits/32, out) int32, packed along the input dim; qzeros (groups, out*bits/32)
  int32; scales (groups, out); g_idx (in,) int32.
- AWQ: qweight (in, out*bits/32) int32, packed along the output dim; qzeros and scales as GPTQ.
  Both: bits = 32 * qzeros.cols / scales.cols.
- bitsandbytes 4-bit (nf4/fp4): weight (n/2, 1) uint8, two 4-bit values per byte, flattened; the
  logical shape lives in the quant_state blob (data, not read), so only the count is known.
  State: weight.absmax, weight.quant_map, weight.nested_*, weight.quant_state.*.
- bitsandbytes 8-bit (LLM.int8): weight (out, in) int8, one value per element; state SCB (+ weight_format).
- fp8 (e4m3/e5m2): weight (out, in) float8, one value per element; state weight_scale,
  weight_scale_inv (block-wise), input_scale.
- GGUF: a tensor of n weights in a block type of b weights per t bytes stores n/b*t bytes; block
  sizes come from the `gguf` package's own table, passed in by the adapter.
- onnxruntime MatMulNBits: B (N, ceil(K/block), block*bits/8) uint8 holds a K x N weight, each output
  row's K inputs in blocks of `block` values, `bits` bits each; state: scales (N*blocks), zero points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from auditor.rules.base import RuleError, fmt

WORD_BITS = 32
"""GPTQ and AWQ pack their integers into int32 words."""

QUANT_STATE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gptq": ("qzeros", "scales", "g_idx"),
    "awq": ("qzeros", "scales"),
    "bnb_4bit": ("weight.absmax", "weight.quant_map", "weight.nested_absmax", "weight.nested_quant_map",
                 "weight.quant_state"),
    "bnb_8bit": ("SCB", "weight_format"),
    "fp8": ("weight_scale", "weight_scale_inv", "input_scale"),
}
"""Per format, the names (relative to the layer) of the tensors that are quantization state.
`weight.quant_state` is a prefix: bitsandbytes writes `weight.quant_state.bitsandbytes__nf4`."""

FP8_DTYPES = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")


@dataclass(frozen=True)
class Unpacked:
    """A packed tensor's logical form: shape (or, when only the count is known, a flat shape)."""

    shape: tuple[int, ...]
    bits: int
    formula: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _bits_from_state(qzeros: tuple[int, ...], scales: tuple[int, ...]) -> int:
    """bits per weight from the zero points' packing: out values per row in qzeros.cols int32 words."""
    if len(qzeros) != 2 or len(scales) != 2 or qzeros[1] == 0 or (WORD_BITS * qzeros[1]) % scales[1]:
        raise RuleError(f"qzeros {_dims(qzeros)} and scales {_dims(scales)} do not describe a packing")
    bits = WORD_BITS * qzeros[1] // scales[1]
    if bits not in (2, 3, 4, 8):
        raise RuleError(f"qzeros {_dims(qzeros)} and scales {_dims(scales)} give {bits} bits per weight")
    return bits


def _packed(rows_or_cols: int, bits: int, what: str) -> int:
    per_word = WORD_BITS * rows_or_cols
    if per_word % bits:
        raise RuleError(f"{what}: {rows_or_cols} int32 words do not hold a whole number of {bits}-bit values")
    return per_word // bits


def gptq_weight(qweight: tuple[int, ...], qzeros: tuple[int, ...], scales: tuple[int, ...]) -> Unpacked:
    """GPTQ: qweight (in*bits/32, out) int32 -> weight (out, in)."""
    if len(qweight) != 2 or qweight[1] != scales[-1]:
        raise RuleError(f"qweight {_dims(qweight)} does not fit scales {_dims(scales)} (GPTQ packs along the input)")
    bits = _bits_from_state(qzeros, scales)
    fin, fout = _packed(qweight[0], bits, "qweight"), qweight[1]
    return Unpacked((fout, fin), bits, _formula(qweight, (fout, fin), bits))


def awq_weight(qweight: tuple[int, ...], qzeros: tuple[int, ...], scales: tuple[int, ...]) -> Unpacked:
    """AWQ: qweight (in, out*bits/32) int32 -> weight (out, in)."""
    if len(qweight) != 2:
        raise RuleError(f"qweight {_dims(qweight)} is not 2-D")
    bits = _bits_from_state(qzeros, scales)
    fin, fout = qweight[0], _packed(qweight[1], bits, "qweight")
    if fout != scales[-1]:
        raise RuleError(f"qweight {_dims(qweight)} unpacks to {fout} outputs but scales has {scales[-1]}")
    return Unpacked((fout, fin), bits, _formula(qweight, (fout, fin), bits))


def _formula(qweight: tuple[int, ...], logical: tuple[int, int], bits: int) -> str:
    """"qweight 512x4096 int32 -> 4096x4096 = 16,777,216 4-bit weights (8 per word)"; logical as (out, in)."""
    n = logical[0] * logical[1]
    return f"qweight {_dims(qweight)} int32 -> {_dims(logical)} = {fmt(n)} {bits}-bit weights ({WORD_BITS // bits} per word)"


def is_awq(qweight: tuple[int, ...], scales: tuple[int, ...]) -> bool:
    """AWQ packs the output dim (qweight has fewer columns than scales); GPTQ packs the input dim."""
    return len(qweight) == 2 and len(scales) == 2 and qweight[1] < scales[1]


def bnb_4bit_weight(stored: tuple[int, ...]) -> Unpacked:
    """bitsandbytes 4-bit: n uint8 bytes hold 2n 4-bit values (the 2-D shape is in quant_state, not read)."""
    n = 2 * math.prod(stored)
    return Unpacked((n,), 4, f"weight {_dims(stored)} uint8 -> {fmt(n)} 4-bit weights (2 per byte)")


def gguf_bytes(shape: tuple[int, ...], type_name: str, block_size: int, type_size: int) -> tuple[int, str]:
    """(stored bytes, formula) of `shape` weights in GGUF blocks of `block_size` weights per `type_size` bytes."""
    n = math.prod(shape)
    if block_size < 1 or type_size < 1 or (shape and shape[-1] % block_size):
        raise RuleError(f"{type_name}: a row of {shape[-1] if shape else 0} weights is not a whole number of "
                        f"{block_size}-weight blocks")
    blocks = n // block_size
    stored = blocks * type_size
    if block_size == 1:
        return stored, f"{_dims(shape)} = {fmt(n)} x {type_size} bytes ({type_name})"
    bits = 8 * type_size / block_size
    return stored, (f"{_dims(shape)} = {fmt(n)} {type_name} weights in {fmt(blocks)} blocks of {block_size} x "
                    f"{type_size} bytes = {fmt(stored)} bytes ({bits:.2f} bits per weight)")


def quant_state_format(names: set[str]) -> str | None:
    """The format whose state tensors a layer's tensor names (relative to the layer) contain, if any."""
    if "qweight" in names:
        return "gptq"  # the adapter tells GPTQ from AWQ by shapes (`is_awq`)
    if "SCB" in names:
        return "bnb_8bit"
    if any(n.startswith("weight.quant_state") or n == "weight.absmax" for n in names):
        return "bnb_4bit"
    if names & {"weight_scale", "weight_scale_inv"}:
        return "fp8"
    return None


def is_quant_state(fmt_name: str, tensor: str) -> bool:
    """True when `tensor` (relative to the layer) is quantization state of format `fmt_name`."""
    return any(tensor == s or tensor.startswith(s + ".") for s in QUANT_STATE_SUFFIXES.get(fmt_name, ()))


def matmul_nbits_weight(packed: tuple[int, ...], k: int, n: int, bits: int, block_size: int) -> Unpacked:
    """onnxruntime's MatMulNBits: B (N, ceil(K/block), block*bits/8) uint8 -> a K x N weight."""
    if bits < 1 or block_size < 1 or (block_size * bits) % 8:
        raise RuleError(f"MatMulNBits: {block_size} values of {bits} bits do not fill whole bytes")
    blocks, blob = -(-k // block_size), block_size * bits // 8
    if tuple(packed) != (n, blocks, blob):
        raise RuleError(f"MatMulNBits: B is {_dims(packed)} but K={k}, N={n}, bits={bits}, block_size={block_size} "
                        f"store it as {n}x{blocks}x{blob}")
    return Unpacked((k, n), bits, f"B {_dims(packed)} uint8 -> {k}x{n} = {fmt(k * n)} {bits}-bit weights "
                                  f"({blocks} blocks of {block_size} per output, {8 // bits if bits <= 8 else 1} per byte)")
