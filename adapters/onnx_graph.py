"""Walk an ONNX graph into IR layers: nodes become layers, initializers become their parameters.

Weights may reach a node through Identity/Cast/Transpose/... chains of constants; such chains are
followed back to their initializer and not reported as layers.  A MatMul whose only consumer adds a
constant vector is one dense layer.  An initializer used by two layers is owned by the first
(tied weights: `shared_with` on the second).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.onnx_ops import OP_TRANSLATORS, Translation, tensor_op_names
from auditor.errors import InputError
from auditor.ir import Layer, ParamTensor, Shape

WEIGHT_CHAIN_OPS = {"Identity", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "DequantizeLinear", "Flatten"}
"""Ops that only re-present a constant weight (their outputs stay constants)."""

FLOAT_TYPES = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}
ONNX_DTYPES = {**FLOAT_TYPES, 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               14: "complex64", 15: "complex128"}


@dataclass
class Graph:
    """Index of one ONNX graph: shapes, constants, producers and consumers of every value."""

    nodes: list[Any]
    shapes: dict[str, Shape]
    initializers: dict[str, Any]
    graph_inputs: list[str]
    constants: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    producers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: Any, inferred: Any) -> Graph:
        graph = model.graph
        initializers = {t.name: t for t in graph.initializer}
        shapes: dict[str, Shape] = {}
        for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            shape = _value_shape(value)
            if shape is not None:
                shapes[value.name] = shape
        for name, tensor in initializers.items():
            shapes[name] = tuple(int(d) for d in tensor.dims)
        inputs = [i.name for i in inferred.graph.input if i.name not in initializers]
        index = cls(_topological(graph, initializers, inputs), shapes, initializers, inputs)
        for node in index.nodes:
            for name in node.input:
                if name:
                    index.consumers[name].append(node)
            for name in node.output:
                index.producers[name] = node
            if node.op_type == "Constant" and node.output:
                tensor = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
                if tensor is not None:
                    index.constants[node.output[0]] = tensor
                    shapes[node.output[0]] = tuple(int(d) for d in tensor.dims)
        return index

    def flattened_from(self, name: str) -> Shape | None:
        """The per-sample shape a Flatten/Reshape turned into `name` (for formulas like 32*5*5)."""
        node = self.producers.get(name)
        if node is None or node.op_type not in ("Flatten", "Reshape"):
            return None
        shape = self.shapes.get(node.input[0])
        if not shape or len(shape) < 3 or not all(isinstance(d, int) for d in shape[1:]):
            return None
        return shape[1:]

    def input_shapes(self) -> list[Shape]:
        return [self.shapes[n] for n in self.graph_inputs if n in self.shapes]

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def tensor(self, name: str) -> Any:
        """The TensorProto behind an initializer or Constant output, else None."""
        return self.initializers.get(name) or self.constants.get(name)

    def int_values(self, name: str) -> list[int] | None:
        """Values of a small constant int/float tensor kept in the file (Reshape targets, scales)."""
        from onnx import numpy_helper

        tensor = self.tensor(name)
        if tensor is None or tensor.data_location == 1 or _numel(tensor.dims) > 64:
            return None
        try:
            return [v for v in numpy_helper.to_array(tensor).reshape(-1).tolist()]
        except Exception:
            return None


def _value_shape(value: Any) -> Shape | None:
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
        return None
    dims: list[int | str] = []
    for i, dim in enumerate(value.type.tensor_type.shape.dim):
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or f"?{i}")
    return tuple(dims)


def _numel(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total


def _topological(graph: Any, initializers: dict[str, Any], inputs: list[str]) -> list[Any]:
    """The nodes in file order where possible, every input produced first (Kahn, linear time).

    InputError on a value written twice, a value nothing provides, or a cycle.
    """
    available = set(initializers) | set(inputs) | {i.name for i in graph.input} | {""}
    nodes = list(graph.node)
    _check_single_writer(nodes, available)
    users: dict[str, list[int]] = defaultdict(list)
    waiting: list[int] = []
    ready: list[int] = []
    for index, node in enumerate(nodes):
        unmet = {name for name in node.input if name not in available}
        for name in unmet:
            users[name].append(index)
        waiting.append(len(unmet))
        if not unmet:
            ready.append(index)
    ordered: list[Any] = []
    while ready:
        index = heapq.heappop(ready)
        ordered.append(nodes[index])
        for name in nodes[index].output:
            for user in users.pop(name, []):
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, user)
    if len(ordered) < len(nodes):
        _raise_unordered([n for i, n in enumerate(nodes) if waiting[i] > 0], nodes, available)
    return ordered


def ordered_nodes(model: Any) -> list[Any]:
    """The top graph's nodes in topological order; InputError when they are not a DAG of values
    each written once and all provided."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    return _topological(graph, initializers, [i.name for i in graph.input])


def _check_single_writer(nodes: list[Any], available: set[str]) -> None:
    """Every value is written once (ONNX graphs are SSA): by one node, or as an input/initializer."""
    written = set(available)
    for node in nodes:
        for name in node.output:
            if name and name in written:
                raise InputError(f"value {_text(name)!r} is written twice (second time by {_text(node.op_type)} "
                                 f"node {_text(node.name)!r}); not a valid ONNX graph")
            written.add(name)


def _raise_unordered(pending: list[Any], nodes: list[Any], available: set[str]) -> None:
    produced = {name for node in nodes for name in node.output}
    missing = sorted({_text(i) for n in pending for i in n.input if i not in available and i not in produced})
    if missing:
        raise InputError(f"graph uses values no node or initializer provides: {', '.join(missing[:3])}")
    raise InputError(f"graph has a cycle through {_text(pending[0].op_type)} node {_text(pending[0].name)!r}")


def _text(value: Any) -> str:
    """A protobuf string field as text (invalid UTF-8 in a damaged file comes back as bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass
class _Walk:
    """State while turning nodes into layers: who owns which initializer, what is a constant."""

    graph: Graph
    owners: dict[str, str] = field(default_factory=dict)
    constant_values: dict[str, str] = field(default_factory=dict)
    """Value name -> the initializer it re-presents (through a weight chain)."""
    absorbed: set[int] = field(default_factory=set)
    """ids of nodes folded into another layer (the Add after a MatMul)."""
    counted_paths: dict[str, int] = field(default_factory=dict)
    subgraph_notes: list[str] = field(default_factory=list)


def build_layers(graph: Graph) -> tuple[list[Layer], list[str]]:
    """Translate every node into IR layers; returns the layers and notes for the user."""
    walk = _Walk(graph)
    for name in graph.initializers:
        walk.constant_values[name] = name
    for name in graph.constants:
        walk.constant_values[name] = name
    layers: list[Layer] = []
    for node in graph.nodes:
        if id(node) in walk.absorbed or node.op_type == "Constant":
            continue
        if _is_weight_chain(node, walk):
            walk.constant_values[node.output[0]] = walk.constant_values[node.input[0]]
            continue
        layers.extend(_translate(node, walk))
    return layers, _notes(graph, walk)


def _is_weight_chain(node: Any, walk: _Walk) -> bool:
    real = [i for i in node.input if i]
    return (
        node.op_type in WEIGHT_CHAIN_OPS
        and bool(real)
        and all(i in walk.constant_values for i in real)
        and len(node.output) == 1
    )


def _translate(node: Any, walk: _Walk) -> list[Layer]:
    graph = walk.graph
    translator = OP_TRANSLATORS.get((op_domain(node.domain), node.op_type))
    is_const = {name: name in walk.constant_values for name in node.input if name}
    translation = translator(node, graph, is_const) if translator else _unknown(node)
    fused_add = _fused_bias_add(node, translation, walk)
    outputs = fused_add.output if fused_add is not None else node.output
    path = _unique_path(_path(node, translation, walk), walk)
    layer = Layer(
        path=path,
        kind=translation.kind,
        source_type=f"onnx:{_text(node.domain) + '.' if node.domain else ''}{_text(node.op_type)}",
        attrs=translation.attrs,
        input_shapes=[graph.shape(n) or () for n in translation.data_inputs],
        output_shapes=[s for s in (graph.shape(o) for o in outputs[:1] if o) if s is not None],
        params=[],
    )
    extra: list[Layer] = []
    for slot, name in translation.weights:
        layer.params.append(_param(slot, name, path, translation, walk))
    layer.params.extend(_subgraph_params(node, path, walk))
    skip = {name for _, name in translation.weights} | set(translation.constants)
    for name in node.input:
        if name and name in walk.constant_values and name not in skip:
            extra.extend(_loose_constant(name, node, walk))
    return [*extra, layer]


def _fused_bias_add(node: Any, translation: Translation, walk: _Walk) -> Any:
    """The Add that gives a constant-weight MatMul its bias, folded into the dense layer."""
    if translation.kind != "dense" or node.op_type != "MatMul":
        return None
    users = walk.graph.consumers.get(node.output[0], [])
    if len(users) != 1 or users[0].op_type != "Add":
        return None
    add = users[0]
    other = [i for i in add.input if i != node.output[0]]
    if len(other) != 1 or other[0] not in walk.constant_values:
        return None
    bias_shape = walk.graph.shape(other[0]) or ()
    if len([d for d in bias_shape if d != 1]) != 1 or bias_shape[-1] != translation.attrs.get("out_features"):
        return None
    translation.weights.append(("bias", other[0]))
    translation.attrs["use_bias"] = True
    walk.absorbed.add(id(add))
    return add


def _param(slot: str, name: str, path: str, translation: Translation, walk: _Walk) -> ParamTensor:
    source = walk.constant_values.get(name, name)
    tensor = walk.graph.tensor(source)
    shape = tuple(int(d) for d in tensor.dims) if tensor is not None else tuple(
        d for d in (walk.graph.shape(name) or ()) if isinstance(d, int)
    )
    dtype = ONNX_DTYPES.get(tensor.data_type, "float32") if tensor is not None else "float32"
    owner = walk.owners.get(source)
    if owner is None:
        walk.owners[source] = path
    return ParamTensor(
        name=_text(source),
        shape=shape,
        trainable=slot not in translation.statistics,
        shared_with=owner,
        dtype=dtype,
    )


def _loose_constant(name: str, node: Any, walk: _Walk) -> list[Layer]:
    """A learned float tensor a generic op uses (ViT's position embedding added to x): its own row."""
    source = walk.constant_values[name]
    tensor = walk.graph.tensor(source)
    if tensor is None or tensor.data_type not in FLOAT_TYPES or _numel(tensor.dims) <= 1:
        return []
    if source in walk.owners:
        return []
    path = _unique_path(_strip_leaf(_text(source)), walk)
    walk.owners[source] = path
    shape = tuple(int(d) for d in tensor.dims)
    return [
        Layer(
            path=path,
            kind="parameter",
            source_type=f"onnx:initializer used by {_text(node.op_type)}",
            attrs={},
            output_shapes=[shape],
            params=[ParamTensor(_text(source), shape, dtype=ONNX_DTYPES.get(tensor.data_type, "float32"))],
        )
    ]


def _subgraphs(node: Any) -> Iterator[Any]:
    """Every graph nested in `node`'s attributes (If branches, Loop/Scan bodies), depth first."""
    for attribute in node.attribute:
        for graph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
            yield graph
            for inner in graph.node:
                yield from _subgraphs(inner)


def _subgraph_params(node: Any, path: str, walk: _Walk) -> list[ParamTensor]:
    """Float weights inside `node`'s subgraphs, and outer weights they use: counted at `node` (unverified)."""
    tensors: list[Any] = []
    for graph in _subgraphs(node):
        tensors.extend(graph.initializer)
        for inner in graph.node:
            tensors.extend(a.t for a in inner.attribute if inner.op_type == "Constant" and a.HasField("t"))
            for name in inner.input:
                source = walk.constant_values.get(name)
                if source is not None and source not in walk.owners:
                    walk.owners[source] = path
                    tensors.append(walk.graph.tensor(source))
    weights = [t for t in tensors if t is not None and t.data_type in FLOAT_TYPES and _numel(t.dims) > 1]
    if weights:
        walk.subgraph_notes.append(
            f"{_text(node.op_type)} node {path!r}: {len(weights)} weight tensor(s) inside its subgraphs are "
            "counted at that node, unverified (no rule recounts a subgraph)"
        )
    return [ParamTensor(_text(t.name), tuple(int(d) for d in t.dims), dtype=ONNX_DTYPES.get(t.data_type, "float32"))
            for t in weights]


def op_domain(domain: str) -> str:
    """The registry's spelling of an op domain: the default domain is "" however a file names it."""
    return "" if domain in ("", "ai.onnx") else domain


def _unknown(node: Any) -> Translation:
    kind = f"onnx:{_text(node.domain) + '.' if node.domain else ''}{_text(node.op_type)}"
    if not node.domain and node.op_type in tensor_op_names():
        kind = "tensor_op"
    inputs = [i for i in node.input if i]
    return Translation(kind, {"op": node.op_type}, inputs, [])


def _path(node: Any, translation: Translation, walk: _Walk) -> str:
    """The PyTorch module path an exporter recorded, else the weight's prefix, else the node name."""
    if translation.weights:
        source = _text(walk.constant_values.get(translation.weights[0][1], translation.weights[0][1]))
        if "." in source and not source.startswith("onnx::"):
            return _strip_leaf(source)
    scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), None)
    if scopes:
        parts = [s.strip(" '\"") for s in scopes.strip("[]").split(",")]
        parts = [p for p in parts if p]
        if len(parts) >= 2:
            return parts[-2]
    return _text(node.name or node.op_type)


def _strip_leaf(name: str) -> str:
    """"f.3.weight" -> "f.3"; names without a dot stay as they are."""
    return name.rsplit(".", 1)[0] if "." in name else name


def _unique_path(path: str, walk: _Walk) -> str:
    path = _text(path)
    count = walk.counted_paths.get(path, 0)
    walk.counted_paths[path] = count + 1
    return path if count == 0 else f"{path}#{count}"


def _notes(graph: Graph, walk: _Walk) -> list[str]:
    """What the user should know: initializers that are not parameters, folded BatchNorms."""
    unowned = [t for name, t in graph.initializers.items() if name not in walk.owners]
    notes = list(walk.subgraph_notes)
    if unowned:
        elements = sum(_numel(t.dims) for t in unowned)
        notes.append(
            f"{len(unowned)} initializers ({elements:,} elements) are shape constants, scalars or unused; "
            "not counted as parameters"
        )
    fused = sum(
        1 for n in graph.nodes for p in n.metadata_props
        if p.key == "pkg.onnxscript.rewriter.rule_name" and "BatchNorm" in p.value
    )
    if fused:
        notes.append(f"the exporter folded {fused} BatchNorm layer(s) into the preceding conv/dense weights")
    return notes
