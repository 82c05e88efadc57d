"""--batch and --seq: the input shape a budget is computed at (a vision model takes a batch only)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from auditor.errors import InputError
from auditor.memory.options import MemoryOptions

if TYPE_CHECKING:
    from auditor.options import AuditOptions


def memory_inputs(options: AuditOptions, memory: MemoryOptions,
                  defaults: tuple[tuple[int, ...], ...] | None = None) -> AuditOptions:
    """`options` with the input shape fixed at `memory.batch` and `memory.seq` (unchanged if neither).

    `defaults` are the model's own input shapes when the options give none (a bundled reference's)."""
    if memory.batch is None and memory.seq is None:
        return options
    if options.example_inputs is not None:
        raise InputError("--batch/--seq set the input shape; they cannot change given example inputs")
    given = options.input_shapes or defaults
    if given is None:
        if memory.seq is None:
            raise InputError("--batch needs the input shape: give --input-shape (e.g. 1x3x224x224)")
        return dataclasses.replace(options, input_shapes=((memory.batch or 1, memory.seq),),
                                   input_dtypes=options.input_dtypes or ("int64",))
    shapes = []
    for shape in given:
        dims = list(shape)
        if memory.batch is not None and dims:
            dims[0] = memory.batch
        if memory.seq is not None:
            if len(dims) not in (2, 3):
                raise InputError(f"--seq needs inputs of shape (batch, seq) or (batch, seq, features), not {shape}")
            dims[1] = memory.seq
        shapes.append(tuple(dims))
    return dataclasses.replace(options, input_shapes=tuple(shapes))
