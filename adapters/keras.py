"""Keras 3 models into the IR: Sequential, Functional, nested and subclassed models, `.keras`/`.h5` files.

Walk: a Functional model's operations in topological order (Keras's own order), a Sequential's
layers in order; a nested model or an unregistered layer that holds layers adds its name as a path
prefix ("backbone.conv1").  A subclassed model has no graph: its layers come in the order they were
assigned and their shapes from Keras's build record (`get_build_config`).  InputLayers are skipped:
they are not operations; their shapes become `ModelIR.input_shapes`.

Parameters: one ParamTensor per Keras weight.  Keras counts BatchNormalization's moving mean and
variance as non-trainable *parameters* (trainable=False, buffer=False), and so does the IR; the
framework total is `model.count_params()`.

Files (see `adapters.keras_files`): a `.keras` archive is read from its config.json and the weight
*shapes* in model.weights.h5 (no weight data); the model is rebuilt from the config inside a Keras
StatelessScope, so its variables are never allocated.  Legacy `.h5` files, and archives whose
config cannot be rebuilt that way, go through `keras.saving.load_model(safe_mode=True,
compile=False)`.  safe_mode always stays on: a Lambda layer with Python bytecode is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras

from adapters.keras_layers import (
    AttrsFn,
    DuplicateLayerError,
    LayerType,
    build_shapes,
    default_type_map,
    first_node,
    input_shapes,
    lookup_type,
    to_shape,
)
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor, Shape
from auditor.options import AuditOptions, resolve
from auditor.rules import RULES

TYPES = default_type_map()
"""The Keras class -> kind registry (an `auditor.registry.Registry`, the adapter's one global)."""


def register_layer(cls: type, kind: str, attrs: AttrsFn, *, replace: bool = False) -> None:
    """Translate Keras layer class `cls` (and its subclasses) as `kind`, with canonical `attrs(layer)`."""
    TYPES.register(cls, LayerType(kind, attrs), replace=replace)


def unregister_layer(cls: type) -> None:
    """Forget the translation of `cls`, if it has one."""
    TYPES.unregister(cls, missing_ok=True)


@dataclass
class _Walk:
    """State of one translation: which variables are trainable, who owns each one, what was seen."""

    trainable_ids: set[int]
    owners: dict[int, str] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def from_model(model: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate a built Keras model into the IR (the model is only read, never changed).

    Keras leaves the batch dim open ("batch" in the IR); `batch_size`, or the first dim of the
    `input_shapes`, fixes it so MACs and activation memory can be counted.
    """
    options = resolve(options, values)
    if not isinstance(model, keras.layers.Layer):
        raise InputError(f"not a Keras model: {type(model).__module__}.{type(model).__qualname__}")
    if not model.built:
        raise InputError(
            f"Keras model {model.name!r} is not built: call it on data or build it with an Input first"
        )
    walk = _Walk({id(v) for v in model.trainable_weights})
    _walk_container(walk, model, "")
    ir = ModelIR(
        name=options.name or model.name,
        framework="keras",
        source=options.source or f"<keras {type(model).__name__}>",
        layers=walk.layers,
        input_shapes=_model_inputs(model),
        framework_total=int(model.count_params()),
        path_separator=".",
        notes=walk.notes,
    )
    batch = options.batch_size if options.batch_size is not None else _batch_of(options.input_shapes, ir.input_shapes)
    if batch is not None:
        _fix_batch(ir, batch)
    return ir


def _batch_of(input_shapes: tuple[tuple[int, ...], ...] | None, model_inputs: list[Shape]) -> int | None:
    """The batch size the `input_shapes` option asks for; InputError when a shape does not fit its input."""
    if not input_shapes:
        return None
    if len(input_shapes) > max(len(model_inputs), 1):
        raise InputError(f"{len(input_shapes)} input shapes given but the model has {len(model_inputs)} input(s)")
    for shape, model_input in zip(input_shapes, model_inputs or [()]):
        if len(shape) != len(model_input):
            raise InputError(f"input_shape {shape} does not fit the model's input {model_input}")
        known = [(want, have) for want, have in zip(shape[1:], model_input[1:]) if isinstance(have, int)]
        if any(want != have for want, have in known):
            raise InputError(
                f"input_shape {shape} differs from the model's input {model_input}: Keras models fix their "
                "shapes when built; rebuild the model with the Input shape you want"
            )
    return input_shapes[0][0]


def _fix_batch(ir: ModelIR, batch: int) -> None:
    """Replace the symbolic "batch" dim by `batch` in every shape of the IR."""

    def fix(shapes: list[Shape]) -> list[Shape]:
        return [tuple(batch if d == "batch" else d for d in s) for s in shapes]

    ir.input_shapes = fix(ir.input_shapes)
    for layer in ir.layers:
        layer.input_shapes = fix(layer.input_shapes)
        layer.output_shapes = fix(layer.output_shapes)


def _model_inputs(model: Any) -> list[Shape]:
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [to_shape(t.shape) for t in inputs]
    return build_shapes(model)


def _children(container: Any) -> list[Any]:
    """The operations of a container in the order Keras runs them (InputLayers left out)."""
    operations = getattr(container, "operations", None)
    if operations is None:
        operations = container.layers if isinstance(container, keras.Sequential) else _sublayers(container)
    return [op for op in operations if not isinstance(op, keras.layers.InputLayer)]


def _sublayers(layer: Any) -> list[Any]:
    """Direct sublayers of a layer, in tracking order (attribute assignment order)."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    return list(flatten(include_self=False, recursive=False))


def _is_graph(container: Any) -> bool:
    return getattr(container, "operations", None) is not None or isinstance(container, keras.Sequential)


def _walk_container(walk: _Walk, container: Any, prefix: str) -> None:
    """Translate every operation of `container`, recursing into nested models and unknown blocks."""
    if not _is_graph(container) and isinstance(container, keras.Model) and not prefix:
        walk.notes.append(
            f"{container.name} is a subclassed model: layers are listed in the order they were "
            "assigned, and shapes come from each layer's build record"
        )
    for op in _children(container):
        _walk_operation(walk, op, f"{prefix}{op.name}")
    if not _is_graph(container):
        _own_weights(walk, container, prefix.rstrip(".") or container.name)


def _walk_operation(walk: _Walk, op: Any, path: str) -> None:
    if not isinstance(op, keras.layers.Layer):
        walk.layers.append(_layer(op, path, "tensor_op", {}, []))
        return
    layer_type = lookup_type(TYPES, type(op))
    if layer_type is not None:
        walk.layers.append(_leaf(walk, op, path, layer_type))
    elif isinstance(op, keras.Model) or _sublayers(op):
        _walk_container(walk, op, f"{path}.")
    else:
        kind = "unknown" if op.weights else "tensor_op"
        walk.layers.append(_layer(op, path, kind, {}, _params(walk, op, op.weights, path)))


def _own_weights(walk: _Walk, layer: Any, path: str) -> None:
    """Weights a block or subclassed model holds itself (not through a sublayer): an unverified layer."""
    inner = {id(v) for sub in _sublayers(layer) for v in sub.weights}
    own = [v for v in layer.weights if id(v) not in inner]
    if own:
        walk.layers.append(_layer(layer, path, "unknown", {}, _params(walk, layer, own, path)))


def _leaf(walk: _Walk, layer: Any, path: str, layer_type: LayerType) -> Layer:
    try:
        attrs = {k: v for k, v in layer_type.attrs(layer).items() if v is not None}
    except Exception as err:  # noqa: BLE001 - user attrs functions may fail on odd layers
        walk.notes.append(f"{path}: could not read its hyper-parameters ({type(err).__name__}: {err})")
        attrs = {}
    if layer_type.kind == "dense":
        attrs.update(_flattened_from(layer))
    calls = sum(1 for node in getattr(layer, "_inbound_nodes", []) or [] if node.input_tensors)
    if calls > 1:
        walk.notes.append(f"{path} is called {calls} times; its shapes and MACs are those of its first call")
    return _layer(layer, path, layer_type.kind, attrs, _params(walk, layer, layer.weights, path))


def _layer(op: Any, path: str, kind: str, attrs: dict[str, Any], params: list[ParamTensor]) -> Layer:
    ins = input_shapes(op) if isinstance(op, keras.layers.Layer) else _node_inputs(op)
    return Layer(
        path=path,
        kind=kind,
        source_type=_source_type(op),
        attrs=attrs,
        input_shapes=ins,
        output_shapes=_output_shapes(op, ins),
        params=params,
    )


def _node_inputs(op: Any) -> list[Shape]:
    node = first_node(op)
    return [to_shape(t.shape) for t in node.input_tensors] if node is not None else []


def _output_shapes(op: Any, ins: list[Shape]) -> list[Shape]:
    """Output shapes from the graph node, else Keras's own `compute_output_shape` on the build shapes."""
    node = first_node(op)
    if node is not None:
        return [to_shape(t.shape) for t in node.outputs]
    if not ins or not hasattr(op, "compute_output_shape"):
        return []
    keras_shapes = [tuple(None if isinstance(d, str) else d for d in s) for s in ins]
    try:
        out = op.compute_output_shape(*keras_shapes)
    except Exception:  # noqa: BLE001 - Keras raises many types for layers it cannot shape
        return []
    return _shapes_in(out)


def _shapes_in(value: Any) -> list[Shape]:
    """Every shape in a (possibly nested) structure `compute_output_shape` returned."""
    if isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value):
        return [to_shape(value)]
    if isinstance(value, (list, tuple)):
        return [shape for item in value for shape in _shapes_in(item)]
    if isinstance(value, dict):
        return [shape for item in value.values() for shape in _shapes_in(item)]
    return []


def _transparent(layer_type: LayerType | None) -> bool:
    """Weight-free and shape-keeping (dropout, activations): the rules say which kinds are (`Rule.transparent`)."""
    rule = RULES.get(layer_type.kind) if layer_type is not None else None
    return rule is not None and rule.transparent


def _flattened_from(layer: Any) -> dict[str, Any]:
    """{"flattened_from": shape} when the Dense's input is a Flatten's output (dropout/activation between)."""
    producer = _producer(layer)
    while producer is not None and not isinstance(producer, keras.layers.Flatten):
        producer = _producer(producer) if _transparent(lookup_type(TYPES, type(producer))) else None
    if producer is None:
        return {}
    shapes = input_shapes(producer)
    source = shapes[0][1:] if shapes else ()
    if source and all(isinstance(d, int) for d in source):
        return {"flattened_from": tuple(source)}
    return {}


def _producer(op: Any) -> Any | None:
    """The operation whose output is `op`'s first input in the graph, if known."""
    node = first_node(op)
    if node is None:
        return None
    history = getattr(node.input_tensors[0], "_keras_history", None)
    return getattr(history, "operation", None)


def _source_type(op: Any) -> str:
    cls = type(op)
    module = cls.__module__ or ""
    if module.startswith("keras.src.layers") or module.startswith("keras.layers"):
        return f"keras.layers.{cls.__name__}"
    if module.startswith("keras.src.ops"):
        return f"keras.ops.{cls.__name__}"
    if module.startswith("keras.src."):
        return f"keras.{module.split('.')[2]}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


def _params(walk: _Walk, layer: Any, variables: list[Any], path: str) -> list[ParamTensor]:
    """One ParamTensor per Keras weight; a weight seen before is marked as shared with its first owner."""
    params = []
    for v in variables:
        key = id(v)
        owner = walk.owners.setdefault(key, path)
        params.append(
            ParamTensor(
                name=_weight_name(layer, v),
                shape=tuple(int(d) for d in v.shape),
                trainable=key in walk.trainable_ids,
                buffer=False,
                shared_with=None if owner == path else owner,
                dtype=str(getattr(v, "dtype", "float32")),
            )
        )
    return params


def _weight_name(layer: Any, variable: Any) -> str:
    """The weight's path below its layer ("kernel", "query/kernel", "forward_lstm/lstm_cell/bias")."""
    path = str(getattr(variable, "path", "") or "")
    marker = f"{layer.name}/"
    at = path.find(marker)
    return path[at + len(marker) :] if at >= 0 else str(variable.name)


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


__all__ = ["DuplicateLayerError", "TYPES", "deferred_variables", "from_model", "register_layer", "unregister_layer"]
