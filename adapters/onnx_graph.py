"""Index of one ONNX graph (the model's, or a subgraph nested in an If/Loop/Scan node).

Shapes, dtypes, producers and consumers of every value, in topological order.  A subgraph's index has
its enclosing graph as `parent`: names it does not define itself (outer-scope values) are looked up
there, as ONNX resolves them.

The ONNX adapter's own records follow one convention, because every `audit x.onnx` pays for creating
their classes at import: immutable ones are NamedTuples (a frozen dataclass costs ~5x as much to create),
the mutable state of one read is a plain class with `__slots__` and an `__init__` (compared by identity;
a dataclass would compile its generated methods on every import).
"""

from __future__ import annotations

import array
import sys
from collections import defaultdict
from typing import Any

from adapters.onnx_schema import Schemas
from auditor.errors import InputError
from auditor.ir import Shape

FLOAT_TYPES = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}
QUANTIZED_TYPES = {2: "uint8", 3: "int8", 21: "uint4", 22: "int4", 17: "float8", 18: "float8", 19: "float8",
                   20: "float8", 23: "float4"}
"""Integer and narrow-float storage types that quantized weights use."""
ONNX_DTYPES = {**FLOAT_TYPES, **QUANTIZED_TYPES, 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
               12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 8: "string"}
EXTERNAL = 1
"""onnx.TensorProto.EXTERNAL"""


class Graph:
    """One (sub)graph: its nodes in topological order and what is known about every value."""

    __slots__ = ("nodes", "shapes", "dtypes", "initializers", "graph_inputs", "schemas", "parent", "name",
                 "consumers", "producers", "holders")

    def __init__(self, nodes: list[Any], shapes: dict[str, Shape], dtypes: dict[str, int],
                 initializers: dict[str, Any], graph_inputs: list[str], schemas: Schemas,
                 parent: Graph | None = None, name: str = "") -> None:
        self.nodes = nodes
        self.shapes = shapes
        self.dtypes = dtypes
        self.initializers = initializers
        self.graph_inputs = graph_inputs
        self.schemas = schemas
        self.parent = parent
        self.name = name
        self.consumers: dict[str, list[Any]] = defaultdict(list)
        self.producers: dict[str, Any] = {}
        self.holders: set[int] = set()
        """ids of the nodes that hold subgraphs (If branches, Loop/Scan bodies)."""

    @classmethod
    def build(cls, graph: Any, initializers: dict[str, Any], schemas: Schemas, parent: Graph | None = None,
              nodes: list[Any] | None = None, nested: list[int] | None = None) -> Graph:
        """Index `graph` (a GraphProto, shape-inferred where possible); `initializers` by name.
        `nodes`: its nodes, checked and in topological order already (`ordered_nodes`: not sorted twice);
        `nested`: their positions that hold subgraphs (`nested_positions`), when known already."""
        shapes: dict[str, Shape] = {}
        dtypes: dict[str, int] = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            _record(value, shapes, dtypes)
        for name, tensor in initializers.items():
            shapes[name] = tuple(tensor.dims)  # protobuf int64s are Python ints already
            dtypes[name] = tensor.data_type
        inputs = [_text(i.name) for i in graph.input if i.name not in initializers]
        outer = parent.visible() if parent is not None else set()
        if nodes is None:
            nodes = topological(list(graph.node), set(initializers) | set(inputs) | outer | {i.name for i in graph.input})
        index = cls(nodes, shapes, dtypes, initializers, inputs, schemas, parent, _text(graph.name))
        index.holders = {id(nodes[i]) for i in (nested_positions(nodes) if nested is None else nested)}
        consumers, producers = index.consumers, index.producers
        for node in nodes:
            for name in node.input:
                if name:
                    consumers[name].append(node)
            for name in node.output:
                producers[name] = node
        return index

    def visible(self) -> set[str]:
        """Every value name this graph (and its enclosing graphs) defines."""
        names = set(self.initializers) | set(self.graph_inputs) | set(self.producers) | set(self.shapes)
        return names | (self.parent.visible() if self.parent is not None else set())

    def shape(self, name: str) -> Shape | None:
        if name in self.shapes:
            return self.shapes[name]
        return self.parent.shape(name) if self.parent is not None else None

    def dtype(self, name: str) -> int | None:
        if name in self.dtypes:
            return self.dtypes[name]
        return self.parent.dtype(name) if self.parent is not None else None

    def producer(self, name: str) -> Any:
        if name in self.producers:
            return self.producers[name]
        return self.parent.producer(name) if self.parent is not None else None

    def initializer(self, name: str) -> Any:
        if name in self.initializers:
            return self.initializers[name]
        return self.parent.initializer(name) if self.parent is not None else None

    def tensor(self, name: str) -> Any:
        """The TensorProto behind an initializer or a Constant node's output, else None (public for translators)."""
        tensor = self.initializer(name)
        if tensor is None:
            node = self.producer(name)
            if node is not None and node.op_type == "Constant":
                tensor = constant_tensor(node)
        return tensor

    def is_free_input(self, name: str) -> bool:
        """A graph input of the model's own graph with no initializer (a weight exported without values)."""
        if self.parent is not None:
            return name not in self.shapes and self.parent.is_free_input(name)
        return name in self.graph_inputs

    def attrs(self, node: Any) -> dict[str, Any]:
        """`node`'s attributes with the schema's defaults for the model's opset (InputError if malformed)."""
        return self.schemas.attributes(node)

    def int_values(self, name: str, limit: int = 64) -> list[Any] | None:
        """Values of a small constant tensor kept in the file (Reshape targets, Resize scales), else None."""
        return tensor_values(self.tensor(name), limit)

    def flattened_from(self, name: str) -> Shape | None:
        """The per-sample shape a Flatten/Reshape turned into `name` (for formulas like 32*5*5)."""
        node = self.producer(name)
        if node is None or node.op_type not in ("Flatten", "Reshape"):
            return None
        shape = self.shape(node.input[0])
        if not shape or len(shape) < 3 or not all(isinstance(d, int) for d in shape[1:]):
            return None
        return shape[1:]

    def input_shapes(self, exclude: set[str] | frozenset[str] = frozenset()) -> list[Shape]:
        """The shapes of the graph's data inputs (`exclude`: inputs that turned out to be weights)."""
        return [self.shapes[n] for n in self.graph_inputs if n in self.shapes and n not in exclude]


def tensor_values(tensor: Any, limit: int = 64) -> list[Any] | None:
    """The values of a small TensorProto stored in the file itself, else None."""
    if tensor is None or tensor.data_location == EXTERNAL or numel(tensor.dims) > limit:
        return None
    if tensor.data_type in _INT_CODES:
        values = _int_values(tensor)
        if values is not None:
            return values
    from onnx import numpy_helper

    try:
        return list(numpy_helper.to_array(tensor).reshape(-1).tolist())
    except Exception:  # noqa: BLE001 - a damaged tensor simply has no usable values
        return None


_INT_CODES = {7: "q", 6: "i"}
"""int64 and int32 (shapes, axes, indices): the TensorProto types whose values are read without numpy."""


def _int_values(tensor: Any) -> list[int] | None:
    """An int64/int32 tensor's values from its little-endian raw bytes or its typed field (the common Reshape
    target, Gather index), without numpy's conversion; None when the data does not fit its dims."""
    count = numel(tensor.dims)
    if tensor.HasField("raw_data"):
        values = array.array(_INT_CODES[tensor.data_type])
        if len(tensor.raw_data) != count * values.itemsize:
            return None
        values.frombytes(tensor.raw_data)
        if sys.byteorder == "big":
            values.byteswap()
        return values.tolist()
    stored = tensor.int64_data if tensor.data_type == 7 else tensor.int32_data
    return list(stored) if len(stored) == count else None


def constant_tensor(node: Any) -> Any:
    """The TensorProto a Constant node produces (whichever of its value attributes it uses), else None."""
    for attribute in node.attribute:
        if attribute.name == "value" and attribute.HasField("t"):
            return attribute.t
        if attribute.name in ("value_float", "value_floats", "value_int", "value_ints"):
            return _number_tensor(node.output[0], attribute)
    return None


def _number_tensor(name: str, attribute: Any) -> Any:
    """A Constant's value_float(s)/value_int(s) as the TensorProto `onnx.helper.make_tensor` makes of it: FLOAT
    or INT64, a scalar for the singular attribute, a vector for the plural one."""
    from adapters.onnx_core import proto

    is_float, plural = attribute.name.startswith("value_float"), attribute.name.endswith("s")
    values = list(attribute.floats if is_float else attribute.ints) if plural else \
        [attribute.f if is_float else attribute.i]
    tensor = proto().TensorProto(name=name, data_type=1 if is_float else 7, dims=[len(values)] if plural else [])
    (tensor.float_data if is_float else tensor.int64_data).extend(values)
    return tensor


def _record(value: Any, shapes: dict[str, Shape], dtypes: dict[str, int]) -> None:
    kind = value.type
    if kind.WhichOneof("value") != "tensor_type":
        return
    tensor_type = kind.tensor_type
    elem_type = tensor_type.elem_type
    if elem_type:
        dtypes[value.name] = int(elem_type)
    if not tensor_type.HasField("shape"):
        return
    dims: list[int | str] = []
    for i, dim in enumerate(tensor_type.shape.dim):
        size = dim.dim_value  # 0 when unset, so only a 0 needs asking whether it was written
        if size > 0 or (size == 0 and dim.HasField("dim_value")):
            dims.append(size)
        else:  # a dim_param, no value, or -1 (Paddle's "unknown"): symbolic
            dims.append(dim.dim_param or f"?{i}")
    shapes[value.name] = tuple(dims)


def numel(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total


def topological(nodes: list[Any], available: set[str]) -> list[Any]:
    """The nodes in file order where possible, every input produced first (Kahn, linear time).

    InputError on a value written twice, a value nothing provides, or a cycle.
    """
    available = available | {""}
    if _in_order(nodes, available):
        return nodes
    import heapq  # only a graph stored out of order is sorted

    users: dict[str, list[int]] = defaultdict(list)
    waiting: list[int] = []
    ready: list[int] = []
    for index, node in enumerate(nodes):
        unmet = {name for name in (*node.input, *outer_references(node)) if name not in available}
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


def _in_order(nodes: list[Any], available: set[str]) -> bool:
    """Whether every node's inputs are available before it in file order (what exporters write): then the
    file order is already the order Kahn's pass would give.  Checks on the way that every value is written
    once (ONNX graphs are SSA: by one node, or as an input/initializer), InputError if not."""
    written = set(available)
    in_order = True
    for node in nodes:
        if in_order and (not written.issuperset(node.input)
                         or (node.attribute and outer_references(node) - written)):
            in_order = False
        outputs = node.output
        if len(outputs) == 1 and outputs[0] not in written:  # the common case, without the loop
            written.add(outputs[0])
            continue
        for name in outputs:
            if name and name in written:
                raise InputError(f"value {_text(name)!r} is written twice (second time by {_text(node.op_type)} "
                                 f"node {_text(node.name)!r}); not a valid ONNX graph")
            written.add(name)
    return in_order


def nested_positions(nodes: list[Any]) -> list[int]:
    """Positions of the nodes that hold subgraphs: asked once per read, as three passes need it."""
    return [index for index, node in enumerate(nodes) if subgraphs(node)]


def subgraphs(node: Any) -> list[tuple[str, Any]]:
    """(attribute name, GraphProto) of every graph nested directly in `node` (If branches, Loop/Scan bodies)."""
    if not node.attribute:
        return []
    found = []
    for attribute in node.attribute:
        if attribute.type not in _MAY_HOLD_GRAPHS:
            continue
        if attribute.HasField("g"):
            found.append((_text(attribute.name), attribute.g))
        found.extend((f"{_text(attribute.name)}.{i}", g) for i, g in enumerate(attribute.graphs))
    if len(found) < 2:
        return found
    return sorted(found, key=lambda item: BRANCH_ORDER.get(item[0], len(BRANCH_ORDER)))


_MAY_HOLD_GRAPHS = frozenset({0, 5, 10})
"""AttributeProto types whose attribute may carry a graph: GRAPH, GRAPHS, and UNDEFINED (an old or careless
writer that left the type unset); a typed INT or FLOATS attribute cannot."""

BRANCH_ORDER = {"then_branch": 0, "else_branch": 1}
"""An If's branches in the order people read them, whatever order the file stores its attributes in."""


def outer_references(node: Any) -> set[str]:
    """Names `node`'s subgraphs use without defining them: values of the enclosing scope."""
    names: set[str] = set()
    for _, graph in subgraphs(node):
        defined = {t.name for t in graph.initializer} | {i.name for i in graph.input} | {""}
        used: set[str] = set()
        for inner in graph.node:
            used.update(inner.input)
            used.update(outer_references(inner))
            defined.update(inner.output)
        used.update(o.name for o in graph.output)
        names |= used - defined
    return names


def ordered_nodes(model: Any) -> list[Any]:
    """The top graph's nodes in topological order; InputError when they are not a DAG of values
    each written once and all provided."""
    graph = model.graph
    return topological(list(graph.node), {t.name for t in graph.initializer} | {i.name for i in graph.input})


def _raise_unordered(pending: list[Any], nodes: list[Any], available: set[str]) -> None:
    produced = {name for node in nodes for name in node.output}
    missing = sorted({_text(i) for n in pending for i in n.input if i not in available and i not in produced})
    if missing:
        raise InputError(f"graph uses values no node or initializer provides: {', '.join(missing[:3])}")
    raise InputError(f"graph has a cycle through {_text(pending[0].op_type)} node {_text(pending[0].name)!r}")


def _text(value: Any) -> str:
    """A protobuf string field as text (invalid UTF-8 in a damaged file comes back as bytes)."""
    if type(value) is str:
        return value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


text = _text
