"""Running a Keras model without its weights: real shapes for given input shapes, and weight-free building.

A Keras model keeps only the shapes it was built with (a keras_hub backbone's sequence length is
None).  `trace_calls` runs the model once on placeholder inputs of the given shapes and dtypes in
Keras's own shape-inference mode (`compute_output_spec`: no data, no arithmetic), with every variable
read as a placeholder, so no weight is read or allocated.  While it runs, each operation's `call` is
wrapped to record the shapes of its first call; the wrappers are removed before it returns.  A sublayer
that is not built yet is built on that call, as Keras would on the model's first real call.
`input_specs` reads the input_shapes / input_dtypes options against the model's own inputs
(`adapters.keras_inputs`);
`deferred_variables()` builds models whose variables get shapes but no memory.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras

from adapters.keras_inputs import InputSpec, ModelInput, input_specs_for
from adapters.keras_layers import build_shapes, to_shape
from auditor.errors import InputError
from auditor.ir import Shape
from auditor.options import AuditOptions


@dataclass(frozen=True)
class Call:
    """The tensor shapes of one call: arguments in the order of the call's signature, then outputs."""

    inputs: list[Shape]
    outputs: list[Shape]


@dataclass
class Trace:
    """What one symbolic run saw: the first call of each operation (by id) and the layers it built."""

    calls: dict[int, Call] = field(default_factory=dict)
    built: set[int] = field(default_factory=set)


def trace_calls(model: Any, inputs: list[InputSpec]) -> Trace:
    """Run `model` symbolically on `inputs` and record every operation's first call (see the module docstring)."""
    from keras.src import backend, tree

    operations = _operations(model)
    unbuilt = {id(op) for op in operations if isinstance(op, keras.layers.Layer) and not op.built}
    tensors = [keras.KerasTensor(spec.shape, dtype=spec.dtype) for spec in inputs]
    structure = getattr(model, "_inputs_struct", None)
    arguments = tree.pack_sequence_as(structure, tensors) if structure is not None else tensors[0]
    trace = Trace()

    def run(values: Any) -> Any:
        with keras.StatelessScope(state_mapping=_placeholders(model), initialize_variables=False):
            return model(values)

    with _recording(operations, trace):
        try:
            backend.compute_output_spec(run, arguments)
        except Exception as err:  # noqa: BLE001 - any failure of the user's call is one line
            shapes = ", ".join(f"{s.name} {'x'.join(map(str, s.shape))}:{s.dtype}" for s in inputs)
            raise InputError(f"{model.name} cannot run on inputs {shapes}: {_reason(err)}") from None
    trace.built = {id(op) for op in operations if id(op) in unbuilt and op.built}
    return trace


def _reason(err: Exception, limit: int = 400) -> str:
    """The first line of `err` that says what went wrong (Keras wraps it in "Exception encountered ...")."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(err).splitlines()]
    where = next((line.removeprefix("Exception encountered when calling ").rstrip(".")
                  for line in lines if line.startswith("Exception encountered when calling")), "")
    what = next((line for line in lines if line and not line.startswith("Exception encountered")), "")
    text = f"{type(err).__name__}{' in ' + where if where else ''}: {what}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _placeholders(model: Any) -> list[tuple[Any, Any]]:
    """Every variable read as a placeholder of its shape, so no weight (or initializer) enters the trace.

    TensorFlow only: other backends read the variables themselves (still without arithmetic)."""
    if keras.backend.backend() != "tensorflow":
        return []
    import tensorflow as tf

    return [(v, tf.compat.v1.placeholder(v.dtype, tuple(v.shape))) for v in model.variables]


def _operations(model: Any) -> list[Any]:
    """Every layer below `model` and every op of its (nested) functional graphs, each once."""
    found: dict[int, Any] = {}
    containers = [model, *model._flatten_layers(include_self=False, recursive=True)]
    for container in containers:
        if container is not model:
            found.setdefault(id(container), container)
        for op in getattr(container, "operations", None) or []:
            if not isinstance(op, keras.layers.InputLayer):
                found.setdefault(id(op), op)
    return list(found.values())


@contextlib.contextmanager
def _recording(operations: list[Any], trace: Trace) -> Iterator[None]:
    """Wrap each operation's `call` (an instance attribute shadowing the method) for the duration only."""
    wrapped = []
    try:
        for op in operations:
            if "call" not in vars(op):
                object.__setattr__(op, "call", _recorder(op, op.call, trace))
                wrapped.append(op)
        yield
    finally:
        for op in wrapped:
            object.__delattr__(op, "call")


def _recorder(op: Any, call: Any, trace: Trace) -> Any:
    try:
        signature: inspect.Signature | None = inspect.signature(call)
    except (TypeError, ValueError):
        signature = None

    def record(*args: Any, **kwargs: Any) -> Any:
        outputs = call(*args, **kwargs)
        if id(op) not in trace.calls:
            trace.calls[id(op)] = Call(_shapes(_ordered(signature, args, kwargs)), _shapes(outputs))
        return outputs

    return record


def _ordered(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """The call's argument values in the order of its signature (keyword arguments included)."""
    if signature is not None:
        with contextlib.suppress(TypeError):
            return list(signature.bind_partial(*args, **kwargs).arguments.values())
    return [*args, *(kwargs[k] for k in sorted(kwargs))]


def _shapes(value: Any) -> list[Shape]:
    from keras.src import tree

    return [to_shape(t.shape) for t in tree.flatten(value) if hasattr(t, "shape") and hasattr(t, "dtype")]


# ---------------------------------------------------------------- inputs -----------------------------


def model_inputs(model: Any) -> list[ModelInput]:
    """Each model input, in `model.inputs` order (Keras sorts dict inputs by key)."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [ModelInput(_input_name(t), to_shape(t.shape), str(t.dtype)) for t in inputs]
    dtype = str(getattr(model, "input_dtype", None) or "float32")
    return [ModelInput("input", shape, dtype) for shape in build_shapes(model)[:1]]


def _input_name(tensor: Any) -> str:
    """The name of the Input layer that makes `tensor` ("token_ids"), else the tensor's own name."""
    history = getattr(tensor, "_keras_history", None)
    return str(getattr(getattr(history, "operation", None), "name", None) or tensor.name)


def input_specs(model: Any, options: AuditOptions) -> list[InputSpec]:
    """One InputSpec per model input from the input_shapes / input_dtypes options ([] when no shape
    is given); InputError, naming the model's inputs, when they do not fit."""
    if not options.input_shapes:
        return []
    return input_specs_for(model.name, model_inputs(model), options)


# ---------------------------------------------------------------- weight-free building --------------


@contextlib.contextmanager
def deferred_variables() -> Iterator[None]:
    """Build Keras models inside with shapes but no variable memory (Keras's answer to a meta device).

    Variables created inside are never allocated: on exit they leave Keras's pending-initialisation
    list, so no later StatelessScope allocates them.  A model built here can be audited, not run.
    """
    before = {id(v) for v in _pending_variables()}
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        pending = _pending_variables()
        pending[:] = [v for v in pending if id(v) in before]


def _pending_variables() -> list[Any]:
    """Keras's list of variables waiting for initialisation (a Keras internal; empty if it moved)."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover
        return []
    pending = global_state.get_global_attribute("uninitialized_variables")
    return pending if isinstance(pending, list) else []
