"""A model-vs-export diff accounted tensor by tensor, for the rows no layer-level pass explained.

Each tensor of such a row is matched across the two sides: the same tensor listed under another layer
(by name, else by shape: `cls_token` folded through an `expand`), an embedding folded into the rows
the traced input uses (`position_embeddings[:8]`), a buffer the exporter wrote as an initializer, or a
constant the forward pass computes (an attention mask, rotary cos/sin, an RNN's zero initial state).
A tensor adds its elements to its own row and, when matched, takes them from its counterpart's row; a
row whose shares add up to its delta gets them as its findings.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.diff.model import DiffRow, LayerEntry, RowStatus
from auditor.findings import Finding
from auditor.ir import ParamTensor
from auditor.reconcile import counted
from auditor.rules import fmt

if TYPE_CHECKING:
    from auditor.diff.exports import Export


@dataclass(frozen=True)
class _Tensor:
    row: int
    name: str
    """The full name (state-dict name on the model's side, initializer name on the export's)."""
    tensor: ParamTensor


def settled(row: DiffRow) -> bool:
    """The row agrees, or its findings already explain all of its delta as equivalent rewrites."""
    if row.status == RowStatus.SAME:
        return True
    taken = counted(row.findings)
    return row.unexplained == 0 and bool(taken) and all(f.equivalent for f in taken)


def export_constants(rows: list[DiffRow], view: Export) -> list[DiffRow]:
    """Rows whose tensors, matched across the sides, account for their whole delta, with those shares as findings."""
    model, graph = _tensors(rows, view, 0), _tensors(rows, view, 1)
    shares: dict[int, list[Finding]] = defaultdict(list)
    buffers = {n: t for n, t in view.model.model.tensors.items() if t.buffer}
    sequence = {d for shape in view.graph.model.input_shapes for d in shape if isinstance(d, int) and d > 1}
    free = list(model)
    for item in graph:
        match = _by_name(item, free) or _sliced(item, free, sequence) or _by_shape(item, free)
        if match is not None:
            free.remove(match)
            _matched(view, item, match, shares)
        elif item.name in buffers:
            shares[item.row].append(_share(view, "buffer_initializer", item, buffers[item.name].numel,
                                           "buffer written as an initializer",
                                           f"a buffer of {view.names[0]} (not a parameter), written as an initializer"))
        else:
            shares[item.row].append(_share(view, "constant_initializer", item, item.tensor.numel,
                                           "constant computed in forward, written as an initializer",
                                           "a constant the forward pass computes from shapes alone (an attention mask, "
                                           "rotary cos/sin for the traced positions, an RNN's zero initial state), "
                                           "written as an initializer; not a parameter of "
                                           f"{view.names[0]}"))
    out = []
    for index, row in enumerate(rows):
        found = shares.get(index, [])
        if found and not settled(row) and sum(f.amount or 0 for f in found) == row.delta:
            row = dataclasses.replace(row, findings=tuple(found))
        out.append(row)
    return out


def _tensors(rows: list[DiffRow], view: Export, which: int) -> list[_Tensor]:
    """The counted tensors of unsettled rows on one side (0: the model, 1: the export)."""
    names = view.model.model.tensors
    out = []
    for index, row in enumerate(rows):
        entry = view.entries(row)[which]
        if settled(row) or not isinstance(entry, LayerEntry):
            continue
        layer = entry.layer
        for p in layer.params:
            if p.counted:
                full = f"{layer.path}.{p.name}"
                out.append(_Tensor(index, full if which == 0 and full in names else p.name, p))
    return out


def _by_name(item: _Tensor, free: list[_Tensor]) -> _Tensor | None:
    """The model's tensor of the same name and size, else the one the export took a part of ("w[slice(...)]",
    one of the parts a Split or Slice cuts a fused weight into)."""
    same = next((m for m in free if m.name == item.name and m.tensor.numel == item.tensor.numel), None)
    source = item.name.split("[", 1)[0]
    return same or next((m for m in free if source != item.name and m.name == source), None)


def _by_shape(item: _Tensor, free: list[_Tensor]) -> _Tensor | None:
    shape = item.tensor.shape
    return next((m for m in free if m.tensor.shape in (shape, shape[::-1])), None)


def _sliced(item: _Tensor, free: list[_Tensor], sequence: set[int]) -> _Tensor | None:
    """An embedding table (n, d) the export holds as (..., k, d): the k < n rows an input of length k uses."""
    shape = item.tensor.shape
    if len(shape) < 2 or shape[-2] not in sequence or math.prod(shape[:-2]) != 1:
        return None
    k, d = shape[-2], shape[-1]
    return next((m for m in free if len(m.tensor.shape) == 2 and m.tensor.shape[1] == d and m.tensor.shape[0] > k), None)


def _matched(view: Export, item: _Tensor, match: _Tensor, shares: dict[int, list[Finding]]) -> None:
    """The export's tensor and the model's: a share on each row (nothing when both are the same row)."""
    mine, theirs = match.tensor.numel, item.tensor.numel
    if mine != theirs:
        cause = "embedding rows the traced input uses, read at fixed positions"
        why = (f"{match.name} ({_dims(match.tensor.shape)}) is read at fixed indices for the traced input (its "
               f"positions, or token type 0 at each): {view.names[1]} holds the rows it reads as "
               f"{item.name} ({_dims(item.tensor.shape)})")
        shares[match.row].append(_share(view, "sliced_constant", match, -mine, cause, why))
        shares[item.row].append(_share(view, "sliced_constant", item, theirs, cause, why))
        return
    if match.row == item.row:
        return  # one row holds it on both sides: nothing to account for
    cause = "same tensor, listed under another layer in the export"
    why = f"{view.names[1]} lists {match.name} ({_dims(match.tensor.shape)}) as {item.name}, a row of its own"
    shares[match.row].append(_share(view, "regrouped", match, -mine, cause, why))
    shares[item.row].append(_share(view, "regrouped", item, theirs, cause, why))


def _share(view: Export, code: str, item: _Tensor, export_minus_model: int, cause: str, why: str) -> Finding:
    return Finding(code, f"{item.name}: {why}", view.amount(export_minus_model), cause, True)


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(fmt(d) for d in shape) or "scalar"


__all__ = ["export_constants", "settled"]
