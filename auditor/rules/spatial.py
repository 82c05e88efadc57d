"""Sliding-window arithmetic written once for every rank, shared by conv, conv-transpose and pooling.

Canonical spatial attrs (adapters fill all of them, defaults explicit):
  kernel_size, stride, dilation: tuples, one entry per spatial axis;
  padding: a tuple of (begin, end) pairs, or "valid", "same_upper" (TF/Keras "same": the extra pad at
  the end), "same_lower", "causal" (Keras Conv1D: all padding at the start), "half" (transposed conv
  only: extent//2 on both sides, Keras's "same" with an explicit output_padding);
  layout: "channels_first" (N, C, *spatial) or "channels_last" (N, *spatial, C); the batch dim may be
  absent (PyTorch accepts unbatched inputs).
"""

from __future__ import annotations

import math
from typing import Any

from auditor.ir import Dim, Shape
from auditor.rules.base import RuleError

UNKNOWN = "?"
"""An analytic dim that depends on a symbolic input dim."""


def split_channels(shape: Shape, spatial_rank: int, layout: str) -> tuple[Shape, Dim, Shape]:
    """(leading dims, channel dim, spatial dims) of an input with `spatial_rank` spatial axes."""
    if len(shape) < spatial_rank + 1:
        raise RuleError(f"input of rank {len(shape)} is too small for {spatial_rank} spatial axes")
    if layout == "channels_first":
        lead = shape[: len(shape) - spatial_rank - 1]
        return lead, shape[len(lead)], shape[len(lead) + 1 :]
    if layout == "channels_last":
        return shape[: len(shape) - spatial_rank - 1], shape[-1], shape[-1 - spatial_rank : -1]
    raise RuleError(f"unknown layout {layout!r}")


def join_channels(lead: Shape, channels: Dim, spatial: Shape, layout: str) -> Shape:
    if layout == "channels_first":
        return (*lead, channels, *spatial)
    return (*lead, *spatial, channels)


def effective_kernel(k: int, d: int) -> int:
    """Extent of a dilated kernel: d*(k-1)+1."""
    return d * (k - 1) + 1


def explicit_pads(
    padding: Any, spatial_in: Shape, kernel: tuple[int, ...], stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> list[tuple[int, int]] | None:
    """Per-axis (begin, end) pads; None when "same" padding depends on a symbolic input dim."""
    rank = len(kernel)
    if padding == "valid":
        return [(0, 0)] * rank
    if padding == "causal":
        return [(effective_kernel(k, d) - 1, 0) for k, d in zip(kernel, dilation)]
    if padding in ("same_upper", "same_lower"):
        pads = []
        for n, k, s, d in zip(spatial_in, kernel, stride, dilation):
            if not isinstance(n, int):
                return None
            out = -(-n // s)
            total = max((out - 1) * s + effective_kernel(k, d) - n, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if padding == "same_upper" else (large, small))
        return pads
    if isinstance(padding, (tuple, list)) and len(padding) == rank:
        return [(int(b), int(e)) for b, e in padding]
    raise RuleError(f"padding {padding!r} is not canonical for {rank} spatial axes")


def window_output(
    n: Dim, k: int, s: int, d: int, pad_begin: int, pad_end: int, ceil_mode: bool = False
) -> Dim:
    """Output length of a window sweep: floor((n + pads - d*(k-1) - 1)/s) + 1 (ceil in ceil_mode).

    In ceil mode a last window that would start inside the end padding is dropped (PyTorch, ONNX).
    """
    if not isinstance(n, int):
        return UNKNOWN
    span = n + pad_begin + pad_end - effective_kernel(k, d)
    if span < 0:
        raise RuleError(f"kernel extent {effective_kernel(k, d)} exceeds padded input {n + pad_begin + pad_end}")
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + pad_begin:
        out -= 1
    return out


def transposed_output(
    n: Dim, k: int, s: int, d: int, pad_begin: int, pad_end: int, output_padding: int
) -> Dim:
    """Output length of a transposed conv: (n-1)*s - pads + d*(k-1) + output_padding + 1."""
    if not isinstance(n, int):
        return UNKNOWN
    return (n - 1) * s - pad_begin - pad_end + effective_kernel(k, d) + output_padding


def same_transposed_output(n: Dim, s: int) -> Dim:
    """Transposed conv with "same" padding and no output padding: n*s (Keras, ONNX auto_pad)."""
    return n * s if isinstance(n, int) else UNKNOWN


def window_attrs(attrs: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(kernel_size, stride, dilation) as equal-length int tuples; RuleError when inconsistent."""
    try:
        kernel = tuple(int(k) for k in attrs["kernel_size"])
        stride = tuple(int(s) for s in attrs.get("stride", (1,) * len(kernel)))
        dilation = tuple(int(d) for d in attrs.get("dilation", (1,) * len(kernel)))
    except KeyError as missing:
        raise RuleError(f"missing attribute {missing}") from None
    if not (len(kernel) == len(stride) == len(dilation)) or not kernel:
        raise RuleError(f"kernel {kernel}, stride {stride}, dilation {dilation} differ in rank")
    if min(kernel + stride + dilation) < 1:
        raise RuleError(f"kernel {kernel}, stride {stride}, dilation {dilation} must be >= 1")
    return kernel, stride, dilation


def same_padding(mine: Any, stated: Any) -> bool:
    """Whether a table's padding ("same", "valid", 1, (1, 2)) describes the canonical `mine`."""
    if stated == "same":
        return mine in ("same_upper", "same_lower", "same")
    if stated == "valid":
        return mine == "valid" or (isinstance(mine, (tuple, list)) and all(tuple(p) == (0, 0) for p in mine))
    if not isinstance(mine, (tuple, list)):
        return False
    sides = [s for pair in mine for s in pair]
    if isinstance(stated, int):
        return all(s == stated for s in sides)
    return tuple(stated) in (tuple(pair[0] for pair in mine), tuple(sides))
