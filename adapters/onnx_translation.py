"""What a translator says about one ONNX node, and the helpers every translator shares.

A translator reads one node's attributes (schema defaults filled in by `Graph.attrs`) and the shapes
around it, and says which inputs are data, which are weights (and which of those are statistics or
quantization metadata).  No counting happens here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from auditor.ir import Shape
from auditor.records import record

CONSTANT, WEIGHT_INPUT = "constant", "input"
"""How an input is known: a constant of the file, or a graph input without values (export_params=False)."""

Known = dict[str, str]
"""Input name -> CONSTANT or WEIGHT_INPUT (absent: a value computed at run time)."""


@record(eq=False)
class Translation:
    """One node in canonical terms: kind, attrs, which inputs are data and which are weights."""

    kind: str
    attrs: dict[str, Any]
    data_inputs: list[str]
    weights: list[tuple[str, str]] = field(default_factory=list)
    """(slot, input name): "weight", "bias", "running_mean" ..."""
    statistics: set[str] = field(default_factory=set)
    """Weight slots that are statistics (non-trainable parameters), e.g. BatchNorm's mean/variance."""
    constants: list[str] = field(default_factory=list)
    """Constant inputs that are not parameters (RNN initial states, rotary caches, shape tensors)."""
    quantization: list[str] = field(default_factory=list)
    """Inputs that are quantization metadata (scales, zero points)."""
    packed: dict[str, Any] = field(default_factory=dict)
    """slot -> `auditor.rules.quantization.Unpacked` for a weight stored packed (MatMulNBits' 4-bit blocks)."""
    shapes: list[Shape] | None = None
    """The data inputs' shapes as the canonical kind sees them (Gemm's transA: A transposed); None: as stored."""


Translator = Callable[[Any, Any, Known], Translation]


def is_constant(known: Known, name: str | None) -> bool:
    return name is not None and known.get(name) == CONSTANT


def is_weight(known: Known, name: str | None) -> bool:
    """A constant, or a graph input with no initializer in a slot only weights fill."""
    return name is not None and known.get(name) in (CONSTANT, WEIGHT_INPUT)


def optional_input(node: Any, index: int) -> str | None:
    return node.input[index] if len(node.input) > index and node.input[index] else None


def real_inputs(node: Any) -> list[str]:
    return list(filter(None, node.input))  # "" marks a skipped optional input


def channels(shape: Shape | None, fallback: int) -> int:
    """The channel dim of an (N, C, ...) shape, else `fallback` (the weight's own dim)."""
    return shape[1] if shape and len(shape) > 1 and isinstance(shape[1], int) else fallback


def dims(graph: Any, name: str | None) -> tuple[int, ...]:
    """The static dims of `name` ((), when unknown or symbolic)."""
    shape = graph.shape(name) if name else None
    if not shape or not all(isinstance(d, int) for d in shape):
        return ()
    return tuple(int(d) for d in shape)


def dynamic(node: Any, why: str = "weight computed in the graph") -> Translation:
    """A weighted op whose weight is computed at run time: the count cannot be attributed."""
    return Translation(f"onnx:{node.op_type} ({why})", {"op": node.op_type}, real_inputs(node))


def padding(attrs: dict[str, Any], rank: int) -> Any:
    """Canonical padding from ONNX auto_pad / pads."""
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return auto_pad.lower()
    if auto_pad == "VALID":
        return "valid"
    pads = list(attrs.get("pads") or [0] * (2 * rank))
    if len(pads) != 2 * rank:
        return tuple((0, 0) for _ in range(rank))
    return tuple((int(pads[i]), int(pads[i + rank])) for i in range(rank))


def window(attrs: dict[str, Any], rank: int, kernel: tuple[int, ...]) -> dict[str, Any]:
    """Canonical window attrs; ONNX leaves strides and dilations unset to mean all ones."""
    return {
        "kernel_size": kernel,
        "stride": tuple(attrs.get("strides") or [1] * rank),
        "dilation": tuple(attrs.get("dilations") or [1] * rank),
        "padding": padding(attrs, rank),
        "layout": "channels_first",
    }


def op_kind(node: Any) -> str:
    """The kind of a node no translator knows: "onnx:Op" or "onnx:domain.Op"."""
    domain = node.domain.decode() if isinstance(node.domain, bytes) else node.domain
    op = node.op_type.decode("utf-8", "replace") if isinstance(node.op_type, bytes) else node.op_type
    return f"onnx:{domain + '.' if domain and domain != 'ai.onnx' else ''}{op}"
