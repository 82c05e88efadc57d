"""What a shape pass run for a memory budget records beyond shapes: each activation's `TensorFact` (in
`Layer.inputs` / `Layer.outputs`) and how the pass ran (`ModelIR.pass_info`).  Part of the IR, apart from
`auditor.ir` because only a budget's pass creates them: an audit never imports this module."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorFact:
    """What a shape pass saw of one activation tensor, beyond its shape (for the memory budget).

    `storage` identifies the memory the tensor lives in within one pass: views of a tensor share it,
    so two layers that keep "the same" tensor for backward are counted once.
    """

    dtype: str
    storage: int | None = None
    storage_bytes: int | None = None
    """Bytes of the whole storage (a view keeps its base alive)."""
    requires_grad: bool | None = None
    strides: tuple[int, ...] | None = None
    model_state: bool = False
    """The tensor is a parameter or buffer (memory counted as weights, not activations)."""


@dataclass(frozen=True)
class PassInfo:
    """How a shape pass that recorded `TensorFact`s ran: train or eval mode, whose kernels, autocast."""

    training: bool
    device: str = "cpu"
    """The device whose kernels (and so whose views and copies) the pass followed."""
    autocast: str | None = None
    """"bfloat16" / "float16" when the pass ran under autocast (mixed precision)."""
    dtype: str | None = None
    """The floating dtype the model's weights were cast to for the pass (a pure half-precision recipe)."""


__all__ = ["PassInfo", "TensorFact"]
