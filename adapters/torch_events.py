"""What a PyTorch shape pass records: module calls, weight-free operators, where it stopped, what fell back.

The records travel from the pass (`adapters.torch_trace`, TorchScript's `adapters.torchscript_pass`) to the
layer builder (`adapters.torch_layers`); the helpers read tensors' shapes out of nested values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils import _pytree as pytree

from adapters.torch_functions import shape_of
from auditor.ir import Shape
from auditor.pass_facts import TensorFact

FactsFn = Callable[[Any], list[TensorFact]]
"""(nested value) -> one TensorFact per tensor leaf, in `tensor_shapes` order (memory passes only)."""



@dataclass
class Call:
    """One call of a known module: its path (``path#n`` for the n-th call) and the shapes it saw."""

    module_path: str
    path: str
    input_shapes: list[Shape] = field(default_factory=list)
    output_shapes: list[Shape] = field(default_factory=list)
    flattened_from: Shape | None = None
    inputs: list[TensorFact] = field(default_factory=list)
    outputs: list[TensorFact] = field(default_factory=list)


@dataclass
class Op:
    """One weight-free operator recorded at the innermost module that ran it."""

    path: str
    kind: str
    source_type: str
    attrs: dict[str, Any]
    input_shapes: list[Shape]
    output_shapes: list[Shape]
    inputs: list[TensorFact] = field(default_factory=list)
    outputs: list[TensorFact] = field(default_factory=list)


@dataclass(frozen=True)
class Stop:
    """Where a pass stopped: the innermost module running, the aten op that raised (if one did), the error."""

    module_path: str
    op: str | None
    error: str
    confirmed: bool = False
    """The module fails on real tensors too: a bug or a wrong input, not a limit of the meta pass."""


@dataclass(frozen=True)
class Fallback:
    """A module the guarded pass could not run on meta, and what it did instead ("real" or "rule")."""

    path: str
    class_name: str
    how: str
    reason: str


@dataclass
class Trace:
    """What one pass saw, in execution order, and why it stopped early (if it did)."""

    events: list[Call | Op] = field(default_factory=list)
    stop: Stop | None = None
    fallbacks: list[Fallback] = field(default_factory=list)
    unseen: bool = False
    """A pass run with `pause` that must run again without it to be reported as it would be (`RecorderPause`)."""

    @property
    def error(self) -> str | None:
        """The stop's error line (a pass that knows no module or op, like TorchScript's, sets just this)."""
        return self.stop.error if self.stop else None

    @error.setter
    def error(self, text: str | None) -> None:
        self.stop = None if text is None else Stop("", None, text)


def tensor_shapes(value: Any) -> list[Shape]:
    """Shapes of every tensor in a (nested) value, in order."""
    return [shape_of(x) for x in tensor_leaves(value)]


_PLAIN = (type(None), bool, int, float, str, torch.dtype, torch.device)


def tensor_leaves(value: Any) -> list[torch.Tensor]:
    """The tensors of a (nested) value in pytree's order; tuples, lists and dicts are walked here (a hook
    sees thousands of them), anything else by pytree."""
    if isinstance(value, torch.Tensor):
        return [value]
    kind = type(value)
    if kind is tuple or kind is list or kind is dict:
        found: list[torch.Tensor] = []
        for item in (value.values() if kind is dict else value):
            found.extend(tensor_leaves(item))
        return found
    if isinstance(value, _PLAIN):
        return []
    return [x for x in pytree.tree_leaves(value) if isinstance(x, torch.Tensor)]


def error_text(err: BaseException) -> str:
    first = str(err).strip().splitlines()
    return f"{type(err).__name__}: {first[0] if first else ''}".strip()
