"""Shape inference for an ONNX graph without copying its weights.

Inference runs on a copy in which large initializers lose their bytes: float weights stay initializers
with their dims only, the others become typed graph inputs (and large tensors inside subgraphs lose their
bytes but keep their dims), so a multi-GB model is inferred in the memory of its structure.  Declared
dims of -1 are symbolic.  When onnxruntime's fused ops leave values without shapes
(ONNX's inference does not know them), onnxruntime's own symbolic inference fills them in.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from adapters.onnx_graph import nested_positions, subgraphs
from auditor.errors import InputError
from auditor.ir import Shape

SMALL_TENSOR = 64
"""Initializers with at most this many elements keep their data for shape inference (Reshape targets)."""


def infer_shapes(model: Any, nodes: list[Any], input_shapes: tuple[Shape, ...] | None, path: str, *,
                 unknown_dims: bool = True, nested: list[int] | None = None) -> Any:
    """Shape-inferred copy of the graph (`nodes` in topological order) with data-less weights.
    `unknown_dims`: some declared dim may be -1 (False when the caller's dims check found none: no pass needed);
    `nested`: the positions of the nodes holding subgraphs (`nested_positions`), when known already.

    No weight bytes are copied.  InputError when ONNX's own strict inference finds shapes or types that
    cannot fit together (a graph no runtime would run).
    """
    from adapters.onnx_core import proto

    light = proto().ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    _copy_structure(light.graph, model.graph, nodes)
    holders = set(nested_positions(nodes) if nested is None else nested)
    for index, node in enumerate(light.graph.node):
        if index in holders:
            _strip_subgraph_weights(node)
        else:  # never read by inference, and most of an exporter's bytes (stack traces, scopes): see walk_nodes
            node.ClearField("metadata_props")
            node.ClearField("doc_string")
    if unknown_dims:
        for value in [*light.graph.input, *light.graph.output, *light.graph.value_info]:
            _unknown_dims_symbolic(value)
    _add_weights(light.graph, model)
    if input_shapes is not None:
        _fix_input_shapes(light, input_shapes, {t.name for t in model.graph.initializer}, path)
    return _with_contrib_shapes(_onnx_inference(light, path))


NOT_INFERRED = ("initializer", "sparse_initializer", "doc_string", "quantization_annotation", "metadata_props")
"""GraphProto fields the inferred copy leaves out (its initializers are rebuilt without their bytes)."""


def _copy_structure(light: Any, graph: Any, nodes: list[Any]) -> None:
    """`graph`'s name, nodes (in the order of `nodes`), inputs, outputs and value_info into `light`: one
    CopyFrom of the whole graph, as protobuf copies it in C, costs half of extending each field from Python."""
    light.CopyFrom(graph)
    for name in NOT_INFERRED:
        light.ClearField(name)
    if len(nodes) != len(graph.node) or any(a is not b for a, b in zip(nodes, graph.node)):  # sorted: re-add
        light.ClearField("node")
        light.node.extend(nodes)


STUB_TYPES = frozenset({1, 10, 11, 16})
"""float32, float16, float64, bfloat16: weights no shape computation reads as values."""


def _add_weights(light: Any, model: Any) -> None:
    """The model's initializers into `light` without their bytes: small ones kept whole (Reshape targets,
    Resize scales: values shape inference reads), large float ones as data-less stubs, the others as typed
    graph inputs (unless the graph declares them as inputs already).

    Why stubs: ONNX's data propagation turns every 1-D graph input of known length N into N unknown values
    (the 123 biases and norm weights of bert-base: lists of 768 or 3,072 dims, 3/4 of its inference time),
    while an initializer's dims type the value as an input's would.  Not for: IR < 4 (an initializer must be
    an input there), names written twice (an input may repeat, an initializer may not change type), tensors
    the graph declared as inputs (kept as declared) and integer tensors.
    """
    declared = {i.name for i in model.graph.input}
    tensors = model.graph.initializer
    names = [t.name for t in tensors]
    repeated = set() if len(set(names)) == len(names) else {n for n, k in Counter(names).items() if k > 1}
    stubs_allowed = model.ir_version >= 4
    for tensor, name in zip(tensors, names):
        size = _numel(tensor.dims)
        if size <= SMALL_TENSOR and tensor.data_location != 1:
            light.initializer.append(tensor)
        elif (stubs_allowed and size > SMALL_TENSOR and tensor.data_type in STUB_TYPES and name not in repeated
              and name not in declared):
            _add_stub(light, tensor)
        elif name not in declared:
            _add_typed_input(light, tensor)


def _add_stub(graph: Any, tensor: Any) -> None:
    """`tensor`'s name, type and dims as an initializer without its bytes (nor its external-data address)."""
    stub = graph.initializer.add()
    stub.name = tensor.name
    stub.data_type = tensor.data_type
    stub.dims.extend(tensor.dims)


def _add_typed_input(graph: Any, tensor: Any) -> None:
    """`tensor` as a graph input of its type and dims."""
    _fill_value_info(graph.input.add(), tensor.name, tensor.data_type, tensor.dims)


def _fill_value_info(value: Any, name: str, elem_type: int, dims: Any) -> Any:
    """`value` (a ValueInfoProto) as `onnx.helper.make_tensor_value_info(name, elem_type, dims)` makes it: an
    int dim is a value, a str a symbol, None unknown; a scalar's shape is present, with no dims."""
    value.name = name
    tensor = value.type.tensor_type
    tensor.elem_type = elem_type
    tensor.shape.SetInParent()
    for size in dims:
        dim = tensor.shape.dim.add()
        if isinstance(size, int):
            dim.dim_value = size
        elif isinstance(size, str):
            dim.dim_param = size
    return value


def walk_nodes(nodes: list[Any], inferred: Any, nested: list[int]) -> list[Any]:
    """The top graph's nodes to walk into layers: the file's own `nodes` (their metadata names the layers),
    except those holding subgraphs (at the positions `nested`), whose inferred copies carry their bodies'
    shapes.  `infer_shapes` left the other copies without metadata; inference keeps the nodes, in their order."""
    if not nested:  # the usual graph: no copy to fetch (each one read from the inferred proto costs)
        return nodes
    copies = inferred.graph.node
    if len(copies) != len(nodes):
        raise ValueError(f"shape inference returned {len(copies)} nodes for {len(nodes)}")
    walked = list(nodes)
    for index in nested:
        walked[index] = copies[index]
    return walked


def _onnx_inference(light: Any, path: str) -> Any:
    from adapters.onnx_core import infer_shapes, inference_error

    try:
        return infer_shapes(light, strict_mode=True, data_prop=True)
    except inference_error() as err:
        if "Incompatible dimensions" in str(err) or "[TypeInferenceError]" in str(err):
            raise InputError(f"{path}: the graph's shapes or types do not fit together ({_inference_reason(err)})") from None
    except Exception:  # noqa: BLE001 - inference is a help: fall back below
        pass
    try:
        return infer_shapes(light, data_prop=True)
    except Exception:  # inference is a help, not a requirement: fall back to the declared shapes
        return light


SAME_AS_FIRST_INPUT = {
    "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "LayerNormalization",
    "SimplifiedLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "QuickGelu", "BiasAdd", "BiasDropout",
    "RotaryEmbedding", "FusedConv", "QuantizeLinear", "DequantizeLinear",
}
"""onnxruntime contrib ops whose first output has their first input's shape (ONNX's inference does not
know the com.microsoft domain, so nothing after such an op would have a shape)."""


MAX_PASSES = 64


def _with_contrib_shapes(inferred: Any) -> Any:
    """Give the outputs of onnxruntime's fused ops their shapes and infer again, until nothing changes."""
    from adapters.onnx_core import infer_shapes

    if not any(node.domain == "com.microsoft" for node in inferred.graph.node):
        return inferred  # nothing to add: no need to index every value's shape
    for _ in range(MAX_PASSES):
        shapes = _known_shapes(inferred)
        added = [value for node in inferred.graph.node if node.domain == "com.microsoft"
                 for value in _contrib_outputs(node, shapes) if value.name not in shapes]
        if not added:
            return inferred
        inferred.graph.value_info.extend(added)
        try:
            inferred = infer_shapes(inferred, data_prop=True)
        except Exception:  # noqa: BLE001 - keep what is known
            return inferred
    return inferred


def _known_shapes(model: Any) -> dict[str, Any]:
    """Value name -> TypeProto.Tensor of every shaped value, the weights `_add_stub` wrote included."""
    graph = model.graph
    known = {t.name: _value_info("", t.data_type, list(t.dims)).type.tensor_type
             for t in graph.initializer if _numel(t.dims) > SMALL_TENSOR}
    known.update({v.name: v.type.tensor_type for v in [*graph.input, *graph.value_info, *graph.output]
                  if v.type.WhichOneof("value") == "tensor_type" and v.type.tensor_type.HasField("shape")})
    return known


def _contrib_outputs(node: Any, shapes: dict[str, Any]) -> list[Any]:
    """value_info for `node`'s first output when its shape follows from its inputs' (else nothing)."""
    first = shapes.get(node.input[0]) if node.input else None
    if first is None or not node.output:
        return []
    dims: list[Any] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in first.shape.dim]
    if node.op_type == "Attention" and len(node.input) > 1 and node.input[1] in shapes:
        sizes = next((list(a.ints) for a in node.attribute if a.name == "qkv_hidden_sizes"), [])
        weight = shapes[node.input[1]].shape.dim
        width = sizes[2] if sizes else (weight[1].dim_value // 3 if len(weight) == 2 else 0)
        dims = dims[:-1] + [width] if width else []
    elif node.op_type == "EmbedLayerNormalization" and len(node.input) > 2 and node.input[2] in shapes:
        table = shapes[node.input[2]].shape.dim
        dims = dims + [table[1].dim_value] if len(table) == 2 and table[1].dim_value else []
    elif node.op_type == "QLinearGlobalAveragePool" and len(dims) > 2:
        dims = _globally_pooled(dims, any(a.name == "channels_last" and a.i for a in node.attribute))
    elif node.op_type not in SAME_AS_FIRST_INPUT:
        return []
    if not dims:
        return []
    elem = first.elem_type if node.op_type != "EmbedLayerNormalization" else shapes[node.input[2]].elem_type
    return [_value_info(node.output[0], elem, dims)]


def _value_info(name: str, elem_type: int, dims: list[Any]) -> Any:
    """A new ValueInfoProto (`_fill_value_info`)."""
    from adapters.onnx_core import proto

    return _fill_value_info(proto().ValueInfoProto(), name, elem_type, dims)


def _globally_pooled(dims: list[Any], channels_last: bool) -> list[Any]:
    """A global pool's output dims: every spatial dim 1, batch and channels kept."""
    if channels_last:
        return [dims[0], *[1] * (len(dims) - 2), dims[-1]]
    return [dims[0], dims[1], *[1] * (len(dims) - 2)]


def _strip_subgraph_weights(node: Any) -> None:
    """Large initializers inside If/Loop/Scan bodies keep their dims and type but lose their bytes."""
    for _, graph in subgraphs(node):
        for tensor in graph.initializer:
            if _numel(tensor.dims) > SMALL_TENSOR or tensor.data_location == 1:
                for name in ("raw_data", "float_data", "double_data", "int32_data", "int64_data", "external_data"):
                    tensor.ClearField(name)
                tensor.data_location = 0
        for inner in graph.node:
            _strip_subgraph_weights(inner)


def _inference_reason(err: Exception) -> str:
    """The op and message of an ONNX inference error, on one line."""
    text = " ".join(str(err).split()).replace("[ShapeInferenceError] Inference error(s): ", "")
    return text[:200]


def _numel(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total


def _unknown_dims_symbolic(value: Any) -> None:
    """A declared dim of -1 (some exporters' "unknown") becomes a symbolic dim for shape inference."""
    if value.type.WhichOneof("value") != "tensor_type":
        return
    for i, dim in enumerate(value.type.tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value < 0:
            dim.Clear()
            dim.dim_param = f"unk__{value.name}_{i}"


def replaced_dims_notes(model: Any, shapes: tuple[Shape, ...] | None) -> list[str]:
    """A note for each input whose fixed dims `shapes` (--input-shape) replace: the user asked, but the shapes
    and MACs are then those of the shape given, not of the file's graph."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in weights]
    notes = []
    for value, shape in zip(inputs, shapes or ()):
        fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None
                 for d in value.type.tensor_type.shape.dim]
        if len(fixed) == len(shape) and any(f is not None and f != size for f, size in zip(fixed, shape)):
            declared = "x".join("?" if f is None else str(f) for f in fixed)
            notes.append(f"--input-shape {'x'.join(map(str, shape))} replaced the fixed shape {declared} that the "
                         f"file declares for input {value.name!r}: shapes and MACs are for the shape given")
    return notes


def _fix_input_shapes(model: Any, shapes: tuple[Shape, ...], weights: set[str], path: str) -> None:
    """Replace the dims of the first real inputs (not `weights`), in order, by `shapes` (resolves symbolic dims)."""
    inputs = [value for value in model.graph.input if value.name not in weights]
    if len(shapes) > len(inputs):
        raise InputError(f"{path}: {len(shapes)} input shapes given but the model has {len(inputs)} input(s)")
    for value, shape in zip(inputs, shapes):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(shape):
            raise InputError(f"{path}: --input-shape has {len(shape)} dims but input {value.name!r} has {len(dims)}")
        for dim, size in zip(dims, shape):
            dim.Clear()
            dim.dim_value = int(size)
