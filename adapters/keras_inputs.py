"""A Keras model's inputs against the input_shapes / input_dtypes options (no Keras import).

Shared by the live adapter (`adapters.keras_trace`) and the file reader that works from config.json
alone (`adapters.keras_config`): both describe each model input as a `ModelInput`.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.errors import InputError
from auditor.ir import ModelIR, Shape
from auditor.options import AuditOptions


@dataclass(frozen=True)
class ModelInput:
    """One input as the model declares it: the Input layer's name, its shape (open dims symbolic), dtype."""

    name: str
    shape: Shape
    dtype: str


@dataclass(frozen=True)
class InputSpec:
    """One model input as the options fix it (what a trace feeds, or a shape pass starts from)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def _text(shape: Shape) -> str:
    return "x".join(map(str, shape))


def input_specs_for(model_name: str, expected: list[ModelInput], options: AuditOptions) -> list[InputSpec]:
    """One InputSpec per model input from the options ([] when no shape is given); InputError, naming the
    model's inputs, when they do not fit."""
    shapes = options.input_shapes
    if not shapes:
        return []
    names = ", ".join(f"{i.name} {_text(i.shape)}" for i in expected)
    if len(shapes) != len(expected):
        raise InputError(f"{len(shapes)} input shape(s) given, but {model_name} has {len(expected)} input(s): {names}")
    specs = []
    for index, (shape, declared) in enumerate(zip(shapes, expected)):
        fixed = [(want, have) for want, have in zip(shape[1:], declared.shape[1:]) if isinstance(have, int)]
        if len(shape) != len(declared.shape) or any(want != have for want, have in fixed):
            raise InputError(
                f"input_shape {_text(shape)} does not fit {model_name}'s input {declared.name} "
                f"({_text(declared.shape)}): Keras models fix their shapes when built; rebuild the "
                "model with the Input shape you want"
            )
        specs.append(InputSpec(declared.name, shape, options.dtype_of(index) or declared.dtype))
    return specs


def note_open_dims(ir: ModelIR, inputs: list[ModelInput]) -> None:
    """Say how to count MACs when a model input has an open dim besides the batch (a sequence length)."""
    if not any(isinstance(d, str) for i in inputs for d in i.shape[1:]):
        return
    example = ",".join("x".join(str(d if isinstance(d, int) else 128) for d in (1, *i.shape[1:])) + f":{i.dtype}"
                       for i in inputs)
    names = ", ".join(f"{i.name} {_text(i.shape)}" for i in inputs)
    ir.notes.append(f"the inputs have open dims ({names}): shapes and MACs need them fixed, "
                    f"e.g. --input-shape {example}")


def fix_batch(ir: ModelIR, batch: int) -> None:
    """Replace the symbolic "batch" dim by `batch` in every shape of the IR."""

    def fix(shapes: list[Shape]) -> list[Shape]:
        return [tuple(batch if d == "batch" else d for d in s) for s in shapes]

    ir.input_shapes = fix(ir.input_shapes)
    for layer in ir.layers:
        layer.input_shapes = fix(layer.input_shapes)
        layer.output_shapes = fix(layer.output_shapes)
