"""Decode an 8-bit, non-interlaced PNG (what Chromium's --screenshot writes) with zlib alone, to check a
screenshot is not blank without an imaging library."""

from __future__ import annotations

import struct
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
"""PNG colour type -> samples per pixel (grey, RGB, grey+alpha, RGBA)."""


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    """Undo one scanline's filter in place (Sub and Up vectorised; Average and Paeth byte by byte)."""
    import numpy as np

    if kind == 0:
        return
    if kind in (1, 2):
        values = np.frombuffer(bytes(line), dtype=np.uint8).astype(np.int64)
        if kind == 2:
            values += np.frombuffer(bytes(previous), dtype=np.uint8)
        else:
            values = values.reshape(-1, bpp).cumsum(axis=0).reshape(-1)
        line[:] = (values & 0xFF).astype(np.uint8).tobytes()
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        corner = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF


def decode(data: bytes) -> tuple[int, int, int, list[bytearray]]:
    """(width, height, channels, rows of raw samples)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, header, idat = 8, b"", bytearray()
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or interlace or colour not in CHANNELS:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    channels = CHANNELS[colour]
    raw, stride = zlib.decompress(bytes(idat)), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(raw[start], line, previous, channels)
        rows.append(line)
        previous = line
    return width, height, channels, rows


def grey_variance(data: bytes, step: int = 4) -> float:
    """Variance of the pixels' mean colour value, sampling every `step`-th pixel of every `step`-th row."""
    width, height, channels, rows = decode(data)
    colour = min(channels, 3)
    values = [sum(row[x * channels:x * channels + colour]) / colour
              for row in rows[::step] for x in range(0, width, step)]
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)
