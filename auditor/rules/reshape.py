"""Weight-free layers that move, combine or pass data through: no parameters, zero MACs.

Kinds and their canonical attrs:
  identity-like (identity, cast, quantize, dequantize; activations, dropout, softmax in `pointwise`): output
    = input shape (a quantize op's scale and zero point are quantization state, not parameters);
  flatten: start_axis, end_axis (inclusive, PyTorch/Keras), or axis with mode="2d" (ONNX Flatten);
  reshape: shape (target; -1 inferred, 0 copies the input dim unless allowzero), keep_leading (how
    many leading input dims are kept in front of the target: Keras' batch dim);
  concat: axis; transpose: perm;
  pad: pads, one (begin, end) pair per input axis;
  tensor_op: a known weight-free ONNX/graph op (Shape, Gather, Slice ...): output not recomputed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.ir import Dim, Layer, Shape
from auditor.rules.base import Rule, RuleError, attr, first_input
from auditor.rules.registry import register
from auditor.rules.shapes import normalize_axis, product_dim
from auditor.rules.spatial import UNKNOWN

if TYPE_CHECKING:
    from auditor.rules.saved_records import SaveContext, SavedTensor


class KeepsNothing(Rule):
    """A layer whose backward needs only shapes (views, copies, concatenation, padding)."""

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        return []


class PassThroughRule(KeepsNothing):
    """A layer whose output has its input's shape (identity, cast; the base of the pointwise rules)."""

    allocates_output = False
    transparent = True

    def __init__(self, kind: str) -> None:
        self.kind = kind  # type: ignore[misc]

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [first_input(layer)]


class FlattenRule(KeepsNothing):
    """Flatten axes start..end into one (or, mode "2d", everything before/after `axis`)."""

    kind = "flatten"
    allocates_output = False
    flattens = True

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        if layer.attrs.get("mode") == "2d":
            axis = int(layer.attrs.get("axis", 1))
            axis = axis + len(shape) if axis < 0 else axis  # ONNX: axis in [-r, r]
            return [(product_dim(shape[:axis]), product_dim(shape[axis:]))]
        if not shape:
            return [(1,)]
        start = normalize_axis(int(layer.attrs.get("start_axis", 1)), len(shape))
        end = normalize_axis(int(layer.attrs.get("end_axis", -1)), len(shape))
        if end < start:
            return [shape]
        return [(*shape[:start], product_dim(shape[start : end + 1]), *shape[end + 1 :])]


class ReshapeRule(KeepsNothing):
    """Reshape to a target shape with one inferred (-1) dim; the element count must be unchanged."""

    kind = "reshape"
    allocates_output = False
    flattens = True

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        keep = int(layer.attrs.get("keep_leading", 0))
        target = list(attr(layer, "shape"))
        allowzero = bool(layer.attrs.get("allowzero", False))
        body = shape[keep:]
        resolved: list[Dim] = []
        for i, d in enumerate(target):
            if d == 0 and not allowzero:
                if i >= len(body):
                    raise RuleError(f"reshape copies dim {i} of a rank-{len(body)} input")
                resolved.append(body[i])
            else:
                resolved.append(d)
        if resolved.count(-1) > 1:
            raise RuleError(f"reshape target {target} has more than one -1")
        if -1 in resolved:
            total, rest = product_dim(body), product_dim(tuple(d for d in resolved if d != -1))
            if isinstance(total, int) and isinstance(rest, int):
                if rest == 0 or total % rest:
                    raise RuleError(f"cannot reshape {body} into {target}")
                resolved[resolved.index(-1)] = total // rest
            else:
                resolved[resolved.index(-1)] = UNKNOWN
        else:
            total, new = product_dim(body), product_dim(tuple(resolved))
            if isinstance(total, int) and isinstance(new, int) and total != new:
                raise RuleError(f"cannot reshape {body} ({total} elements) into {target} ({new})")
        return [(*shape[:keep], *resolved)]


class ConcatRule(KeepsNothing):
    """Concatenation along `axis`: the other dims must agree, that axis adds up."""

    kind = "concat"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shapes = layer.input_shapes
        if not shapes:
            raise RuleError(f"concat {layer.path!r} has no inputs")
        rank = len(shapes[0])
        axis = normalize_axis(int(attr(layer, "axis")), rank)
        if any(len(s) != rank for s in shapes):
            raise RuleError(f"concat of inputs with different ranks: {shapes}")
        sizes = [s[axis] for s in shapes]
        total = sum(sizes) if all(isinstance(d, int) for d in sizes) else UNKNOWN  # type: ignore[arg-type]
        out = list(shapes[0])
        out[axis] = total
        return [tuple(out)]


class TransposeRule(KeepsNothing):
    """Axis permutation: output[i] = input[perm[i]]."""

    kind = "transpose"
    allocates_output = False

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        perm = [int(p) for p in attr(layer, "perm")]
        if sorted(normalize_axis(p, len(shape)) for p in perm) != list(range(len(shape))):
            raise RuleError(f"perm {perm} is not a permutation of {len(shape)} axes")
        return [tuple(shape[p] for p in perm)]


class PadRule(KeepsNothing):
    """Constant/reflect padding: each axis grows by its (begin, end) pads."""

    kind = "pad"

    def output_shapes(self, layer: Layer) -> list[Shape]:
        shape = first_input(layer)
        pads = attr(layer, "pads")
        if len(pads) != len(shape):
            raise RuleError(f"{len(pads)} pad pairs for a rank-{len(shape)} input")
        return [tuple(_padded(d, int(b), int(e)) for d, (b, e) in zip(shape, pads))]


def _padded(dim: Dim, begin: int, end: int) -> Dim:
    """A dim grown by its pads; a symbolic dim stays itself when it is not padded."""
    if isinstance(dim, int):
        return dim + begin + end
    return dim if begin == end == 0 else UNKNOWN


class TensorOpRule(Rule):
    """A known weight-free op whose output shape nn-auditor takes from the framework as is."""

    kind = "tensor_op"
    allocates_output = False


for _kind in ("identity", "cast", "quantize", "dequantize"):
    register(PassThroughRule(_kind))
for _rule in (FlattenRule(), ReshapeRule(), ConcatRule(), TransposeRule(), PadRule(), TensorOpRule()):
    register(_rule)
