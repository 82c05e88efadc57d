"""safetensors checkpoints (`model.safetensors`, or sharded through `model.safetensors.index.json`),
read from their headers only: the 8-byte little-endian header length, then the JSON header
`{name: {dtype, shape, data_offsets}}`.  Tensor data is never read.

The header is validated as the safetensors library itself does before it hands out a tensor: a
header claim over `MAX_HEADER_BYTES` is refused before anything is read, every dtype is known, every
byte range equals dtype size x shape, and the ranges tile the data section exactly (no overlap, no
gap, nothing past the end of the file).  A bad file is one line naming the problem.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from adapters.checkpoint import checkpoint_ir
from adapters.checkpoint_kinds import Stored
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

MAX_HEADER_BYTES = 100_000_000
"""The safetensors library's own limit on the JSON header."""

DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 8), "U8": ("uint8", 8), "I8": ("int8", 8), "I16": ("int16", 16), "U16": ("uint16", 16),
    "F16": ("float16", 16), "BF16": ("bfloat16", 16), "I32": ("int32", 32), "U32": ("uint32", 32),
    "F32": ("float32", 32), "F64": ("float64", 64), "I64": ("int64", 64), "U64": ("uint64", 64),
    "C64": ("complex64", 64), "F8_E4M3": ("float8_e4m3fn", 8), "F8_E5M2": ("float8_e5m2", 8),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 8), "F8_E5M2FNUZ": ("float8_e5m2fnuz", 8),
    "F8_E8M0": ("float8_e8m0fnu", 8), "F4": ("float4_e2m1", 4), "F6_E2M3": ("float6_e2m3", 6),
    "F6_E3M2": ("float6_e3m2", 6),
}
"""safetensors dtype code -> (canonical dtype name, bits per element): every dtype safetensors 0.8 writes."""


class HeaderError(ValueError):
    """The header breaks the safetensors format (the message says how)."""


def read_safetensors(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """`audit model.safetensors`: one file's header as a ModelIR."""
    options = resolve(options, values)
    tensors, metadata = _read_one(path)
    notes = [f"safetensors header only: {len(tensors):,} tensors, no tensor data read"]
    if metadata:
        notes.append("header metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(metadata.items())[:8]))
    return checkpoint_ir(tensors, name=options.name or _stem(path), source=options.source or path,
                         framework="safetensors", notes=notes, metadata={"safetensors": metadata})


def read_safetensors_tensors(path: str) -> list[Stored]:
    """One shard's tensors (for `sharded`); InputError naming the shard when its header is bad."""
    return _read_one(path)[0]


def _stem(path: str) -> str:
    base = os.path.basename(path)
    return base.split(".safetensors", 1)[0] or base


def _read_one(path: str) -> tuple[list[Stored], dict[str, str]]:
    try:
        return read_header(path)
    except HeaderError as err:
        raise InputError(f"{path}: not a readable safetensors file: {err}") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None


def read_header(path: str) -> tuple[list[Stored], dict[str, str]]:
    """(tensors in header order, the header's __metadata__); HeaderError when the file breaks the format."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 8:
            raise HeaderError(f"{size} bytes is too short for the 8-byte header length")
        length = int.from_bytes(handle.read(8), "little")
        if length > MAX_HEADER_BYTES:
            raise HeaderError(f"the header claims {length:,} bytes, more than the {MAX_HEADER_BYTES:,} safetensors allows")
        if 8 + length > size:
            raise HeaderError(f"the header claims {length:,} bytes but only {size - 8:,} follow the length")
        raw = handle.read(length)
    header = _parse(raw)
    metadata = _metadata(header.pop("__metadata__", None))
    tensors, ranges = [], []
    for name, entry in header.items():
        stored, begin, end = _entry(name, entry)
        tensors.append(stored)
        ranges.append((begin, end, name))
    _check_tiling(ranges, size - 8 - length)
    return tensors, metadata


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HeaderError("the header is not UTF-8 text") from None
    if not text.startswith("{"):
        raise HeaderError("the header does not start with '{'")
    try:
        header = json.loads(text)
    except json.JSONDecodeError as err:
        raise HeaderError(f"the header is not valid JSON ({err.msg} at byte {err.pos})") from None
    if not isinstance(header, dict):
        raise HeaderError("the header is not a JSON object")
    return header


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise HeaderError("__metadata__ must map names to strings")
    return value


def _entry(name: str, entry: Any) -> tuple[Stored, int, int]:
    """One tensor's entry, checked: a known dtype, a shape of non-negative ints, a range of its exact size."""
    if not isinstance(entry, dict):
        raise HeaderError(f"tensor {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPES:
        raise HeaderError(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise HeaderError(f"tensor {name!r} has shape {shape!r}, not a list of non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise HeaderError(f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end] with 0 <= begin <= end")
    canonical, bits = DTYPES[dtype]
    bit_count = math.prod(shape) * bits
    if bit_count % 8:
        raise HeaderError(f"tensor {name!r}: {dtype} x {_dims(shape)} is not a whole number of bytes")
    begin, end = offsets
    if end - begin != bit_count // 8:
        raise HeaderError(f"tensor {name!r}: {dtype} x {_dims(shape)} takes {bit_count // 8:,} bytes but its "
                          f"data_offsets span {end - begin:,}")
    return Stored(name, tuple(shape), canonical, end - begin), begin, end


def _dims(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def _check_tiling(ranges: list[tuple[int, int, str]], data_bytes: int) -> None:
    """The byte ranges must cover the data section exactly once, as safetensors requires."""
    expected, previous = 0, None
    for begin, end, name in sorted(ranges):
        if end > data_bytes:
            raise HeaderError(f"tensor {name!r} ends at data byte {end:,} but the file holds only {data_bytes:,} "
                              "bytes of data (truncated, or an offset outside the file)")
        if begin < expected:
            raise HeaderError(f"tensors {previous!r} and {name!r} overlap (bytes {begin:,}..{expected:,})")
        if begin > expected:
            raise HeaderError(f"data bytes {expected:,}..{begin:,} belong to no tensor (before {name!r})")
        expected, previous = end, name
    if expected != data_bytes:
        raise HeaderError(f"data bytes {expected:,}..{data_bytes:,} after the last tensor belong to no tensor")
