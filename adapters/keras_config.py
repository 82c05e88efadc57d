"""A saved Keras model into the IR from its config and its stored weight shapes, without importing Keras.

Each operation of the graph (`adapters.keras_graph`) is translated through the table of Keras's own
classes (`adapters.keras_types`): kind and attrs from its config, parameters from the variables the
file stores for it (`adapters.keras_store`; dims only), so the framework's count stays the file's own.
Shapes: what Keras recorded with each call (the framework's word, as a live model's graph gives it);
a shape Keras did not record (a model output; every shape of a Keras 2 config, or of a model audited
for given input shapes) is propagated through the rules' own `output_shapes` along the graph.
Whatever this cannot do faithfully raises `NeedsKeras` with the reason, and the caller reads the file
with Keras instead: a class without a translation that holds weights, someone's own (registered) class,
a Lambda, a subclassed model, a shape no rule computes, stored weights that are not what the config
builds (Keras then says whether the file is broken).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from adapters.keras_graph import Graph, Op, Ref, graph_of, is_model
from adapters.keras_inputs import ModelInput, fix_batch, input_specs_for, note_open_dims
from adapters.keras_layers import LayerConfig, config_from_dict, source_type, to_shape
from adapters.keras_store import StoredLayer, StoredModel, split_named
from adapters.keras_types import KERAS_CLASSES, KerasClass, class_key
from auditor.ir import Layer, ModelIR, ParamTensor, Shape
from auditor.options import AuditOptions
from auditor.rules import RULES

NOTE = "read from the file's config and weight shapes without importing Keras (no weight data loaded)"


class NeedsKeras(Exception):
    """The config alone cannot give a faithful IR; the message says why (it becomes the report's note)."""


@dataclass
class _Scope:
    """One graph being walked: its tensors' shapes so far, what Keras recorded, each op's kind and inputs."""

    graph: Graph
    prefix: str
    stored: StoredLayer | None
    trainable: bool
    tensors: dict[Ref, Shape] = field(default_factory=dict)
    recorded: dict[Ref, Shape] = field(default_factory=dict)
    by_call: dict[tuple[str, int], dict[int, Shape]] = field(default_factory=dict)
    """`recorded` by (op name, node): one look-up per call, not a scan of every recorded tensor per op."""
    kinds: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, list[Shape]] = field(default_factory=dict)


@dataclass
class _Walk:
    fixed: bool
    """No input shapes were given: Keras's recorded shapes stand (else every shape is propagated)."""
    layers: list[Layer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_config(serialized: dict[str, Any], stored: StoredModel, options: AuditOptions) -> ModelIR:
    """The IR of the model a config describes, its parameters from `stored`; NeedsKeras when it cannot."""
    if not is_model(serialized):
        raise NeedsKeras(f"a {serialized.get('class_name', 'custom')} model is not a Functional or Sequential graph")
    try:
        graph = graph_of(serialized)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise NeedsKeras(f"its graph could not be read ({err})") from None
    declared = _model_inputs(graph)
    specs = input_specs_for(graph.name, declared, options)
    walk = _Walk(fixed=not specs)
    starts: list[Shape] = [tuple(s.shape) for s in specs] if specs else [i.shape for i in declared]
    _container(walk, graph, "", stored.root, starts, graph.trainable, {})
    ir = ModelIR(name=options.name or graph.name, framework="keras", source=options.source or "<keras file>",
                 layers=walk.layers, input_shapes=list(starts),
                 framework_total=sum(math.prod(v.shape) for v in stored.root.variables),
                 path_separator=".", notes=[NOTE, *walk.notes])
    _check_counts(ir, stored)
    batch = options.batch_size if options.batch_size is not None else (specs[0].shape[0] if specs else None)
    if batch is not None:
        fix_batch(ir, batch)
    if not specs:
        note_open_dims(ir, declared)
    if specs:
        ir.notes.append("shapes propagated through nn-auditor's rules from the given input shapes (Keras did not run)")
    ir.notes += [f"the file also stores {group} state ({count} variables), not part of the model's count"
                 for group, count in stored.beside.items()]
    return ir


def _model_inputs(graph: Graph) -> list[ModelInput]:
    ops = {op.name: op for op in graph.ops}
    found = []
    for name, _, _ in graph.inputs:
        op = ops.get(name)
        if op is None or not op.is_input:
            raise NeedsKeras(f"input {name!r} is not an InputLayer")
        config = op.config
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if shape is None:
            raise NeedsKeras(f"input {name!r} has no shape")
        dtype = config.get("dtype")
        found.append(ModelInput(name, to_shape(shape), dtype if isinstance(dtype, str) else "float32"))
    return found


def _container(walk: _Walk, graph: Graph, prefix: str, stored: StoredLayer | None, starts: list[Shape],
               trainable: bool, outer_recorded: dict[Ref, Shape]) -> list[Shape]:
    """Translate every operation of `graph` (nested models recursively); its output shapes."""
    scope = _Scope(graph, prefix, stored, trainable and graph.trainable)
    scope.recorded = {arg.source: arg.shape for op in graph.ops for call in op.calls for arg in call
                      if arg.source is not None and arg.shape is not None} | outer_recorded
    for (name, node, t), shape in scope.recorded.items():
        scope.by_call.setdefault((name, node), {})[t] = shape
    if len(starts) != len(graph.inputs):
        raise NeedsKeras(f"{prefix or graph.name}: called on {len(starts)} inputs, built for {len(graph.inputs)}")
    scope.tensors.update(zip(graph.inputs, starts))
    for op in graph.ops:
        if not op.is_input:
            _operation(walk, scope, op)
    return [_needed(scope, ref, f"{prefix or graph.name + '.'}output") for ref in graph.outputs]


def _needed(scope: _Scope, ref: Ref, what: str) -> Shape:
    shape = scope.tensors.get(ref)
    if shape is None:
        raise NeedsKeras(f"{what}: the shape of {ref[0]}'s output is neither recorded nor computable")
    return shape


def _call_inputs(walk: _Walk, scope: _Scope, op: Op, index: int) -> list[Shape] | None:
    """The shapes of call `index`'s tensors: Keras's recorded ones (unless input shapes were given), else propagated."""
    shapes = []
    for arg in op.calls[index]:
        shape = arg.shape if walk.fixed and arg.shape is not None else scope.tensors.get(arg.source) if arg.source else None
        if shape is None:
            return None
        shapes.append(shape)
    return shapes


def _operation(walk: _Walk, scope: _Scope, op: Op) -> None:
    path = f"{scope.prefix}{op.name}"
    if not op.calls:
        raise NeedsKeras(f"{path} is never called in the graph")
    calls = [_call_inputs(walk, scope, op, k) for k in range(len(op.calls))]
    first = calls[0]
    if first is None:
        raise NeedsKeras(f"{path}: the shapes of its inputs are neither recorded nor computable")
    scope.inputs[op.name] = first
    if is_model(op.serialized):
        _nested(walk, scope, op, path, first)
        return
    entry = _translation(op, scope, path)
    config = config_from_dict(op.serialized, tuple(first))
    layer = _layer(walk, scope, op, path, entry, config)
    walk.layers.append(layer)
    scope.kinds[op.name] = layer.kind
    for k, inputs in enumerate(calls):
        outputs = _rule_outputs(dataclasses.replace(layer, input_shapes=inputs, output_shapes=[])) if inputs else None
        shapes = _outputs(walk, scope, op, k, outputs)
        if k == 0:
            if shapes is None:
                raise NeedsKeras(f"{path}: its output shape is neither recorded nor computable ({layer.kind})")
            layer.output_shapes = shapes
    if len(op.calls) > 1 and entry is not None:
        walk.notes.append(f"{path} is called {len(op.calls)} times; its shapes and MACs are those of its first call")


def _outputs(walk: _Walk, scope: _Scope, op: Op, call: int, computed: list[Shape] | None) -> list[Shape] | None:
    """Call `call`'s output shapes (recorded where Keras recorded them, else the rule's); kept as the graph's tensors."""
    node = call + op.node_offset
    recorded = scope.by_call.get((op.name, node), {}) if walk.fixed else {}
    count = max(len(computed or ()), max(recorded, default=-1) + 1)
    shapes = []
    for t in range(count):
        shape = recorded.get(t) or (computed[t] if computed and t < len(computed) else None)
        if shape is None:
            return None
        scope.tensors[(op.name, node, t)] = shape
        shapes.append(shape)
    return shapes or None


def _rule_outputs(layer: Layer) -> list[Shape] | None:
    rule = RULES.get(layer.kind)
    if rule is None:
        return None
    try:
        return rule.output_shapes(layer)
    except Exception:  # noqa: BLE001 - a rule that cannot shape this layer leaves the shape to Keras
        return None


def _nested(walk: _Walk, scope: _Scope, op: Op, path: str, inputs: list[Shape]) -> None:
    """A nested Functional or Sequential: its layers under "path.", its outputs into this graph."""
    inner = graph_of(op.serialized)
    stored = scope.stored.layers.get(op.name) if scope.stored is not None else None
    if stored is not None and not stored.layers and stored.groups:  # legacy .h5: the nested model's weights by name
        try:
            stored = StoredLayer(layers=split_named(stored, [o.name for o in inner.ops]))
        except ValueError as err:
            raise NeedsKeras(f"{path}: {err}") from None
    outer = scope.by_call.get((op.name, op.node_offset), {})
    recorded = {inner.outputs[t]: s for t, s in outer.items() if t < len(inner.outputs)} if walk.fixed else {}
    outputs = _container(walk, inner, f"{path}.", stored, inputs, scope.trainable and op.trainable, recorded)
    for t, shape in enumerate(outputs):
        scope.tensors[(op.name, op.node_offset, t)] = shape
    scope.kinds[op.name] = "model"


def _translation(op: Op, scope: _Scope, path: str) -> KerasClass | None:
    """The table entry of the op's class; None for a weight-free operation without one (a "tensor_op")."""
    if op.class_name == "Lambda":
        raise NeedsKeras(f"{path} is a Lambda layer (Keras's safe_mode decides whether it may be loaded)")
    registered = op.registered_name or ""
    if not op.module.startswith("keras") or ">" in registered:
        raise NeedsKeras(f"{path} is a {registered or op.class_name}, a class of your own")
    entry = KERAS_CLASSES.get(class_key(op.module, op.class_name))
    if entry is None and op.module.startswith("keras.src.ops"):
        return None
    if entry is None and _stored(scope, op) is not None and _stored(scope, op).variables:  # type: ignore[union-attr]
        raise NeedsKeras(f"{path} is a {op.module}.{op.class_name}, which nn-auditor translates from live models only")
    return entry


def _stored(scope: _Scope, op: Op) -> StoredLayer | None:
    return scope.stored.layers.get(op.name) if scope.stored is not None else None


def _layer(walk: _Walk, scope: _Scope, op: Op, path: str, entry: KerasClass | None, config: LayerConfig) -> Layer:
    kind = entry.kind if entry is not None else "tensor_op"
    attrs: dict[str, Any] = {}
    if entry is not None:
        try:
            attrs = {k: v for k, v in entry.attrs(config).items() if v is not None}
        except Exception as err:  # noqa: BLE001 - an old or odd config: Keras reads it instead
            raise NeedsKeras(f"{path}: its config could not be read ({type(err).__name__}: {err})") from None
    if getattr(RULES.get(kind), "reads_flattened", False):  # a dense layer: the rules say which kinds
        attrs.update(_flattened_from(scope, op))
    params = _params(scope, op, path, entry, config) if entry is not None else []
    return Layer(path=path, kind=kind, source_type=source_type(op.module, op.class_name), attrs=attrs,
                 input_shapes=list(config.input_shapes), output_shapes=[], params=params)


def _params(scope: _Scope, op: Op, path: str, entry: KerasClass, config: LayerConfig) -> list[ParamTensor]:
    """One ParamTensor per stored variable, named and marked trainable as Keras creates them."""
    stored = _stored(scope, op)
    groups = [g for g in stored.groups if g.variables] if stored is not None else []
    expected = entry.variables(config)
    if expected and not groups:
        raise NeedsKeras(f"{path}: the file stores no weights for it")
    trainable = scope.trainable and op.trainable
    params = []
    for group in groups:
        names = group.names or expected
        if len(names) != len(group.variables):
            raise NeedsKeras(f"{path}: {len(group.variables)} stored variables where a {op.class_name} saves "
                             f"{len(expected)}")
        for variable, name in zip(group.variables, names):
            frozen = name.rsplit("/", 1)[-1] in entry.frozen
            params.append(ParamTensor(name=f"{group.prefix}{name}", shape=variable.shape,
                                      trainable=trainable and not frozen, dtype=variable.dtype))
    return params


def _flattened_from(scope: _Scope, op: Op) -> dict[str, Any]:
    """{"flattened_from": shape} when the Dense's input is a Flatten's output (dropout/activation between)."""
    producer = _producer(scope, op)
    while producer is not None and producer.class_name != "Flatten":
        rule = RULES.get(scope.kinds.get(producer.name, ""))
        producer = _producer(scope, producer) if rule is not None and rule.transparent else None
    if producer is None:
        return {}
    shapes = scope.inputs.get(producer.name) or []
    source = shapes[0][1:] if shapes else ()
    if source and all(isinstance(d, int) for d in source):
        return {"flattened_from": tuple(source)}
    return {}


def _producer(scope: _Scope, op: Op) -> Op | None:
    """The operation whose output is `op`'s first input, in the same graph."""
    if not op.calls or not op.calls[0] or op.calls[0][0].source is None:
        return None
    name = op.calls[0][0].source[0]
    return next((o for o in scope.graph.ops if o.name == name and not o.is_input), None)


def _check_counts(ir: ModelIR, stored: StoredModel) -> None:
    """Every stored variable is some layer's, and each layer's are what its config builds (else Keras decides)."""
    assigned = sum(len(layer.params) for layer in ir.layers)
    if assigned != len(stored.root.variables):
        raise NeedsKeras(f"the file stores {len(stored.root.variables)} variables, the config's layers "
                         f"account for {assigned}")
    for layer in ir.layers:
        rule = RULES.get(layer.kind)
        if rule is None or not layer.params:
            continue
        try:
            analytic = rule.count(layer).params
        except Exception:  # noqa: BLE001 - unverifiable here means unverified in the report, as for a live model
            continue
        if analytic != layer.reported_params:
            raise NeedsKeras(f"{layer.path}: its stored weights hold {layer.reported_params:,} parameters where "
                             f"its config gives {analytic:,}")
