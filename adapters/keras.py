"""Keras 3 models into the IR: Sequential, Functional, nested and subclassed models, `.keras`/`.h5` files.

Walk: a Functional model's operations in topological order (Keras's own order), a Sequential's
layers in order; a nested model or an unregistered layer that holds layers adds its name as a path
prefix ("backbone.conv1").  A subclassed model has no graph: its layers come in the order they were
assigned and their shapes from Keras's build record (`get_build_config`).  InputLayers are skipped:
they are not operations; their shapes become `ModelIR.input_shapes`.

Parameters: one ParamTensor per Keras weight.  Keras counts BatchNormalization's moving mean and
variance as non-trainable *parameters* (trainable=False, buffer=False), and so does the IR; the
framework total is `model.count_params()`.

Files (see `adapters.keras_files`): a `.keras` archive or legacy `.h5` is translated from its config
and stored weight *shapes* without importing Keras (`adapters.keras_config`); only what that cannot
translate faithfully is rebuilt by Keras (`adapters.keras_rebuild`, safe_mode always on) and comes here.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any

import keras

from adapters.keras_inputs import fix_batch, note_open_dims
from adapters.keras_layers import (
    AttrsFn,
    DuplicateLayerError,
    LayerType,
    build_shapes,
    input_shapes,
    lookup_type,
    source_type,
    to_shape,
)
from adapters.keras_nodes import node_inputs, output_shapes, producer, weight_name
from adapters.keras_trace import Trace, deferred_variables, input_specs, model_inputs, trace_calls
from adapters.keras_types import default_type_map
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
    trace: Trace = field(default_factory=Trace)
    """The shapes of one symbolic run for the given input shapes (empty when none were given)."""
    owners: dict[int, str] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def from_model(model: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate a built Keras model into the IR (the model is only read; see `adapters.keras_trace`).

    Keras leaves the batch dim, and often a sequence length, open ("batch", "?" in the IR).
    `input_shapes` (one shape per model input, in `model.inputs` order) runs the model symbolically on
    those shapes, so every layer gets its real shapes and MACs; `input_dtypes` (one for all inputs, or
    one per input) overrides the inputs' own dtypes.  `batch_size` only fixes the batch dim.
    """
    options = resolve(options, values)
    if not isinstance(model, keras.layers.Layer):
        raise InputError(f"not a Keras model: {type(model).__module__}.{type(model).__qualname__}")
    if not model.built:
        raise InputError(
            f"Keras model {model.name!r} is not built: call it on data or build it with an Input first"
        )
    _register_hub_types()
    specs = input_specs(model, options)
    trace = trace_calls(model, specs) if specs else Trace()  # first: it may build sublayers
    walk = _Walk({id(v) for v in model.trainable_weights}, trace)
    _walk_container(walk, model, "")
    ir = ModelIR(
        name=options.name or model.name,
        framework="keras",
        source=options.source or f"<keras {type(model).__name__}>",
        layers=walk.layers,
        input_shapes=[spec.shape for spec in specs] if specs else _model_inputs(model),
        framework_total=int(model.count_params()),
        path_separator=".",
        notes=walk.notes,
    )
    batch = options.batch_size if options.batch_size is not None else (specs[0].shape[0] if specs and specs[0].shape else None)
    if batch is not None:
        fix_batch(ir, batch)
    if not specs:
        note_open_dims(ir, model_inputs(model))
    return ir


def _register_hub_types() -> None:
    """keras_hub's layers join the type map once keras_hub is imported (a model of its classes imports it)."""
    if "keras_hub" not in sys.modules:
        return
    from adapters.keras_hub_types import hub_types

    table = hub_types()
    if not table or lookup_type(TYPES, table[0][0]) is not None:
        return
    for cls, kind, attrs, walk in table:
        with contextlib.suppress(DuplicateLayerError):  # the user registered their own translation first
            TYPES.register(cls, LayerType(kind, attrs, walk))


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


def _walk_container(walk: _Walk, container: Any, prefix: str, layer_type: LayerType | None = None) -> None:
    """Translate every operation of `container`, recursing into nested models and blocks."""
    if not _is_graph(container) and isinstance(container, keras.Model) and not prefix:
        walk.notes.append(
            f"{container.name} is a subclassed model: layers are listed in the order they were "
            "assigned, and shapes come from each layer's build record"
        )
    for op in _children(container):
        _walk_operation(walk, op, f"{prefix}{op.name}")
    if not _is_graph(container):
        _own_weights(walk, container, prefix.rstrip(".") or container.name, layer_type)


def _walk_operation(walk: _Walk, op: Any, path: str) -> None:
    if not isinstance(op, keras.layers.Layer):
        walk.layers.append(_layer(walk, op, path, "tensor_op", {}, []))
        return
    if id(op) in walk.trace.built:
        walk.notes.append(f"{path} was not built: nn-auditor built it for the given input shapes, as Keras "
                          "would on the model's first call (its weights are now part of the model)")
    elif not op.built:
        walk.notes.append(f"{path} is not built, so it has no weights yet: give input shapes (--input-shape) "
                          "to build it for them")
    layer_type = lookup_type(TYPES, type(op))
    if layer_type is not None and not layer_type.walk:
        walk.layers.append(_leaf(walk, op, path, layer_type))
    elif layer_type is not None or isinstance(op, keras.Model) or _sublayers(op):
        _walk_container(walk, op, f"{path}.", layer_type)
    else:
        kind = "unknown" if op.weights else "tensor_op"
        walk.layers.append(_layer(walk, op, path, kind, {}, _params(walk, op, op.weights, path)))


def _own_weights(walk: _Walk, layer: Any, path: str, layer_type: LayerType | None) -> None:
    """Weights a block or subclassed model holds itself (not through a sublayer): a layer of the block's
    registered kind, else an unverified one."""
    inner = {id(v) for sub in _sublayers(layer) for v in sub.weights}
    own = [v for v in layer.weights if id(v) not in inner]
    if not own:
        return
    if layer_type is None:
        walk.layers.append(_layer(walk, layer, path, "unknown", {}, _params(walk, layer, own, path)))
    else:
        walk.layers.append(_leaf(walk, layer, path, layer_type, own))


def _leaf(walk: _Walk, layer: Any, path: str, layer_type: LayerType, weights: list[Any] | None = None) -> Layer:
    try:
        attrs = {k: v for k, v in layer_type.attrs(layer).items() if v is not None}
    except Exception as err:  # noqa: BLE001 - user attrs functions may fail on odd layers
        walk.notes.append(f"{path}: could not read its hyper-parameters ({type(err).__name__}: {err})")
        attrs = {}
    if getattr(RULES.get(layer_type.kind), "reads_flattened", False):  # a dense layer: the rules say which kinds
        attrs.update(_flattened_from(layer))
    calls = sum(1 for node in getattr(layer, "_inbound_nodes", []) or [] if node.input_tensors)
    if calls > 1:
        walk.notes.append(f"{path} is called {calls} times; its shapes and MACs are those of its first call")
    variables = layer.weights if weights is None else weights
    return _layer(walk, layer, path, layer_type.kind, attrs, _params(walk, layer, variables, path))


def _layer(walk: _Walk, op: Any, path: str, kind: str, attrs: dict[str, Any], params: list[ParamTensor]) -> Layer:
    """One IR layer; its shapes come from the trace when it ran, else from the graph or build record."""
    call = walk.trace.calls.get(id(op))
    if call is not None:
        ins, outs = call.inputs, call.outputs
    else:
        ins = input_shapes(op) if isinstance(op, keras.layers.Layer) else node_inputs(op)
        outs = output_shapes(op, ins)
    return Layer(path=path, kind=kind, source_type=_source_type(op), attrs=attrs, input_shapes=ins,
                 output_shapes=outs, params=params)


def _transparent(layer_type: LayerType | None) -> bool:
    """Weight-free and shape-keeping (dropout, activations): the rules say which kinds are (`Rule.transparent`)."""
    rule = RULES.get(layer_type.kind) if layer_type is not None else None
    return rule is not None and rule.transparent


def _flattened_from(layer: Any) -> dict[str, Any]:
    """{"flattened_from": shape} when the Dense's input is a Flatten's output (dropout/activation between)."""
    feeder = producer(layer)
    while feeder is not None and not isinstance(feeder, keras.layers.Flatten):
        feeder = producer(feeder) if _transparent(lookup_type(TYPES, type(feeder))) else None
    if feeder is None:
        return {}
    shapes = input_shapes(feeder)
    source = shapes[0][1:] if shapes else ()
    if source and all(isinstance(d, int) for d in source):
        return {"flattened_from": tuple(source)}
    return {}


def _source_type(op: Any) -> str:
    return source_type(type(op).__module__ or "", type(op).__qualname__)


def _params(walk: _Walk, layer: Any, variables: list[Any], path: str) -> list[ParamTensor]:
    """One ParamTensor per Keras weight; a weight seen before is marked as shared with its first owner."""
    params = []
    for v in variables:
        key = id(v)
        owner = walk.owners.setdefault(key, path)
        params.append(
            ParamTensor(
                name=weight_name(layer, v),
                shape=tuple(int(d) for d in v.shape),
                trainable=key in walk.trainable_ids,
                buffer=False,
                shared_with=None if owner == path else owner,
                dtype=str(getattr(v, "dtype", "float32")),
            )
        )
    return params


__all__ = ["DuplicateLayerError", "TYPES", "deferred_variables", "from_model", "register_layer", "unregister_layer"]
