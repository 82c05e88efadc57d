"""Which values of an ONNX graph are constants, and which tensors of the file each one is made of.

A weight may be stored as an initializer, a `Constant` node (Paddle, tf2onnx), a `ConstantOfShape`
fill of a constant shape (the Model Zoo "light" graphs) or a graph input without an initializer
(`export_params=False`).  On its way to the op that uses it, it may pass through ops that only
re-present it (Identity, Cast, Transpose, Reshape, ...), take a part of it (Split, Slice, Gather),
join several (Concat), dequantize it (DequantizeLinear: its scale and zero point are quantization
metadata) or compute with other constants (weight normalisation).  Such ops are folded away here:
the op that finally consumes the value owns the tensors it is made of.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from adapters.onnx_graph import FLOAT_TYPES, ONNX_DTYPES, QUANTIZED_TYPES, Graph, constant_tensor, numel, text
from adapters.onnx_reads import GATHER_LIMIT, Index, describe_region, read_index
from auditor.ir import DTYPE_BYTES

FOUR_BIT = {21, 22, 23}
"""uint4, int4, float4e2m1: two elements per stored byte."""

WHOLE = {"Identity", "Cast", "CastLike", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Expand", "Tile"}
"""Ops whose first input reaches the output whole (re-presented, not computed with)."""
PARTS = {"Split", "Slice", "Gather"}
"""Ops whose output is a part of their first input."""
DATA_INPUTS = {op: (0,) for op in WHOLE | PARTS | {"Pad"}}
"""Ops whose other inputs are shapes, axes or indices, not tensors that flow into the result."""
SHAPE_READERS = {"Shape", "Size"}
"""Ops that read only their input's shape, never its values."""
NOT_FOLDED = SHAPE_READERS | {"QuantizeLinear", "DynamicQuantizeLinear", "If", "Loop", "Scan"}
"""Ops that never turn constant inputs into a constant weight."""


class Source(NamedTuple):
    """A tensor the file holds (or declares): initializer, Constant node, ConstantOfShape fill, weight input."""

    name: str
    shape: tuple[int, ...]
    data_type: int
    origin: str
    """"initializer", "constant", "constant_of_shape" or "graph_input" (no values in the file)."""

    @property
    def numel(self) -> int:
        return numel(self.shape)

    @property
    def dtype(self) -> str:
        return ONNX_DTYPES.get(self.data_type, "float32")

    def stored_bytes(self, elements: int) -> int:
        """Bytes that `elements` of this tensor take in the file (4-bit types pack two per byte)."""
        if self.data_type in FOUR_BIT:
            return (elements + 1) // 2
        return elements * DTYPE_BYTES.get(self.dtype, 4)

    @property
    def is_weight_type(self) -> bool:
        """Float or quantized storage: the types weights (and their scales) have, unlike int64 shapes."""
        return self.data_type in FLOAT_TYPES or self.data_type in QUANTIZED_TYPES


class Part(NamedTuple):
    """A source, whole or a part of it, inside a constant value."""

    source: Source
    view: str | None = None
    """None for the whole tensor; else the value naming the part (a Split or Slice output)."""
    shape: tuple[int, ...] | None = None
    """The part's shape (None: the source's)."""
    quantization: bool = False
    """A scale or zero point that a DequantizeLinear applied to the weight."""
    read: bool = False
    """A Slice or Gather view: counted where it is used only when the graph's reads partition the source."""

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.source.name, self.view)

    @property
    def numel(self) -> int:
        return numel(self.shape) if self.shape is not None else self.source.numel


class ConstValue(NamedTuple):
    """A constant value: the parts of the file's tensors it is made of."""

    parts: tuple[Part, ...]

    def params(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not p.quantization)

    def quantization(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.quantization)


class Constants:
    """The constant values of one (sub)graph; names the graph does not define are looked up in `parent`."""

    __slots__ = ("graph", "parent", "values", "sources", "shape_uses", "folded", "reads", "from_inputs")

    def __init__(self, graph: Graph, parent: Constants | None = None) -> None:
        self.graph = graph
        self.parent = parent
        self.values: dict[str, ConstValue] = {}
        self.sources: dict[str, Source] = {}
        self.shape_uses: set[str] = set()
        """Sources read only as shapes, axes or indices somewhere."""
        self.folded: set[int] = set()
        """ids of the nodes folded into constants (not layers)."""
        self.reads: dict[str, dict[str, Index | None]] = {}
        """Source -> region -> the positions a Slice/Gather view takes of it (None: not known)."""
        self.from_inputs: dict[str, str] = {}
        """Value -> the graph input (without initializer) it re-presents through Transpose/Reshape/...: such a
        value is a weight wherever a weight slot takes it (tf2onnx turns captured constants into inputs)."""

    def get(self, name: str) -> ConstValue | None:
        if name in self.values:
            return self.values[name]
        return self.parent.get(name) if self.parent is not None else None

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def weight_input(self, name: str) -> str | None:
        """The graph input `name` re-presents (itself, when it is one), else None."""
        if name in self.from_inputs:
            return self.from_inputs[name]
        if self.parent is not None:
            return self.parent.weight_input(name)
        return name if self.graph.is_free_input(name) else None


def find_constants(graph: Graph, parent: Constants | None = None) -> Constants:
    """Every constant value of `graph`, following each node in topological order."""
    found = Constants(graph, parent)
    for name, tensor in graph.initializers.items():
        _add_source(found, Source(text(name), tuple(tensor.dims), int(tensor.data_type), "initializer"))
    for node in graph.nodes:
        if node.op_type == "Constant" and not node.domain:
            _constant_node(found, node)
        elif node.op_type == "ConstantOfShape" and not node.domain:
            _constant_of_shape(found, node)
        else:
            _propagate(found, node)
            _follow_input(found, node)
    return found


def _follow_input(found: Constants, node: Any) -> None:
    """Identity/Transpose/Reshape/... of a graph input, other inputs constant: still that input."""
    if node.op_type not in WHOLE or node.domain or not node.input or len(node.output) != 1:
        return
    source = found.weight_input(node.input[0])
    if source is not None and all(i in found for i in node.input[1:] if i):
        found.from_inputs[node.output[0]] = source


def _add_source(found: Constants, source: Source) -> None:
    found.sources[source.name] = source
    found.values[source.name] = ConstValue((Part(source),))


def _constant_node(found: Constants, node: Any) -> None:
    tensor = constant_tensor(node)
    if tensor is None or not node.output:
        return
    found.folded.add(id(node))
    shape = tuple(int(d) for d in tensor.dims)
    found.graph.shapes.setdefault(node.output[0], shape)
    found.graph.dtypes.setdefault(node.output[0], int(tensor.data_type))
    _add_source(found, Source(text(node.output[0]), shape, int(tensor.data_type), "constant"))


def _constant_of_shape(found: Constants, node: Any) -> None:
    """A fill of a constant shape holds as many elements as that shape says (a weight without its values)."""
    shape_input = node.input[0] if node.input else ""
    if shape_input not in found:
        return
    values = found.graph.int_values(shape_input)
    inferred = found.graph.shape(node.output[0])
    if values is not None:
        shape = tuple(int(v) for v in values)
    elif inferred is not None and all(isinstance(d, int) for d in inferred):
        shape = tuple(int(d) for d in inferred)  # type: ignore[arg-type]
    else:
        return
    value = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
    data_type = int(value.data_type) if value is not None else 1  # the schema's default fill is float32 0
    _mark_shape_use(found, shape_input)
    found.folded.add(id(node))
    found.graph.shapes.setdefault(node.output[0], shape)
    found.graph.dtypes.setdefault(node.output[0], data_type)
    _add_source(found, Source(text(node.output[0]), shape, data_type, "constant_of_shape"))


def _propagate(found: Constants, node: Any) -> None:
    """If every input of `node` is constant, its outputs are constants made of the data inputs' parts."""
    inputs = node.input
    # the first input is the one most often computed at run time: asked first, before any list is made
    if not inputs or (inputs[0] and inputs[0] not in found) or node.op_type in NOT_FOLDED:
        return
    real = list(filter(None, inputs))  # the named inputs ("" skips an optional one)
    if not real or real[0] not in found or not node.output or not all(i in found for i in real[1:]):
        return
    if (node.domain and node.domain not in ("ai.onnx",)) or _is_lookup(found, node):
        return
    found.folded.add(id(node))
    data = DATA_INPUTS.get(node.op_type)
    flowing = [node.input[i] for i in data if i < len(node.input) and node.input[i]] if data else real
    for name in real:
        if name not in flowing:
            _mark_shape_use(found, name)
    parts: list[Part] = []
    for name in flowing:
        value = found.get(name)
        parts.extend(value.parts if value is not None else ())
    if node.op_type == "DequantizeLinear":
        weight = found.get(real[0])
        parts = [*(weight.parts if weight is not None else ()), *_quant_parts(found, real[1:])]
    parts = list({p.key: p for p in parts}.values())  # v / ||v|| * g uses v twice: it is one tensor
    for output in node.output:
        if output:
            found.values[output] = ConstValue(tuple(_view(found, node, output, parts)))


def _is_lookup(found: Constants, node: Any) -> bool:
    """Rows of a whole 2-D float table at constant indices (traced positions, token type 0): an embedding
    lookup, left as a layer so the table is counted whole, once, by the embedding rule."""
    if node.op_type != "Gather" or int(found.graph.attrs(node).get("axis", 0)) != 0:
        return False
    value = found.get(node.input[0])
    shape = found.graph.shape(node.input[0])
    if value is None or len(value.parts) != 1 or shape is None or len(shape) != 2:
        return False
    part = value.parts[0]
    return part.view is None and not part.quantization and part.source.is_weight_type


def _quant_parts(found: Constants, names: list[str]) -> list[Part]:
    out: list[Part] = []
    for name in names:
        value = found.get(name)
        out.extend(Part(p.source, p.view, p.shape, True) for p in (value.parts if value is not None else ()))
    return out


def _view(found: Constants, node: Any, output: str, parts: list[Part]) -> list[Part]:
    """A Split/Slice/Gather output of one whole tensor is a part of it, shaped as shape inference says.

    The part is named by the region it takes, so the same slice taken twice (in both branches of an If)
    is one part of the file, not two.
    """
    if node.op_type not in PARTS or len(parts) != 1 or parts[0].view is not None:
        return parts
    shape = found.graph.shape(output)
    if shape is None or not all(isinstance(d, int) for d in shape):
        return parts
    region = describe_region(found.graph, node, output) or text(output)
    source, read = parts[0].source, node.op_type != "Split"
    if read:
        found.reads.setdefault(source.name, {})[region] = _read_index(found, node, source)
    return [Part(source, region, tuple(int(d) for d in shape), parts[0].quantization, read)]  # type: ignore[arg-type]


def _read_index(found: Constants, node: Any, source: Source) -> Index | None:
    """The positions a Slice/Gather taken of the source itself reads (None after a Reshape/Transpose...)."""
    if node.input[0] != source.name:
        return None
    values = [found.graph.int_values(i, GATHER_LIMIT) if i else None for i in node.input[1:]]
    return read_index(node.op_type, values, found.graph.attrs(node), source.shape)


def _mark_shape_use(found: Constants, name: str) -> None:
    value = found.get(name)
    for part in value.parts if value is not None else ():
        found.shape_uses.add(part.source.name)
