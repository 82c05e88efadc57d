"""ONNX adapter: read a `.onnx` file into the IR without loading or copying weight data.

Loading is safe by construction: protobuf parsing runs no code; external data is never read
(tensor sizes come from the TensorProto dims) and every external-data path must stay inside the
model's folder.  Shape inference (`onnx_shapes`) runs on a copy whose initializers are turned into
typed graph inputs, so a multi-GB model is inferred without copying its weights.

Custom domains: `register_op("com.example", "FusedDense", translate)` makes the graph walk call
`translate(node, graph, is_constant) -> Translation` for that op (see `adapters.onnx_translation`), so its
weights land on a layer of a kind a rule knows.
"""

from __future__ import annotations

import os
import re
from typing import Any

from adapters.onnx_graph import Graph, nested_positions, ordered_nodes
from adapters.onnx_schema import Schemas
from adapters.onnx_shapes import infer_shapes, replaced_dims_notes, walk_nodes
from adapters.onnx_translation import Translation, Translator
from adapters.onnx_translators import OP_TRANSLATORS, op_domain
from adapters.onnx_walk import build_layers
from auditor.errors import InputError, not_installed
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

__all__ = ["OP_TRANSLATORS", "Translation", "Translator", "read_onnx", "register_op", "unregister_op"]

def read_onnx(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Read the ONNX model at `path`; `input_shapes` (e.g. (1, 3, 224, 224)) fix the inputs' dims, in order."""
    options = resolve(options, values)
    model = _load(path)
    tensors = _file_tensors(model)
    missing = _check_external_data(tensors, path)
    unknown_dims = _check_dims(model, tensors, path)
    try:
        inlined = _inline_functions(model)
        unknown_dims = unknown_dims or inlined is not model  # the inliner's values were not checked
        model = inlined
        nodes = ordered_nodes(model)
        nested = nested_positions(nodes)
        inferred = infer_shapes(model, nodes, options.input_shapes, path, unknown_dims=unknown_dims, nested=nested)
        schemas = Schemas({_text(o.domain): int(o.version) for o in model.opset_import})
        initializers = {t.name: t for t in model.graph.initializer}
        graph = Graph.build(inferred.graph, initializers, schemas, nodes=walk_nodes(nodes, inferred, nested),
                            nested=nested)
        layers, ledger = build_layers(graph)
    except InputError as err:
        message = str(err)
        raise InputError(message if message.startswith(f"{path}: ") else f"{path}: {message}") from None
    return ModelIR(
        name=options.name or os.path.basename(path),
        framework="onnx",
        source=options.source or path,
        layers=layers,
        input_shapes=graph.input_shapes(exclude=set(ledger.weight_inputs)),
        framework_total=None,
        path_separator=".",
        notes=ledger.notes(graph) + _exporter_notes(graph) + replaced_dims_notes(model, options.input_shapes),
        unattributed=ledger.unattributed(),
        exporter="ONNX",
        caveats=_missing_data_caveats(missing),
    )


def register_op(domain: str, op_type: str, translator: Translator, *, replace: bool = False) -> Translator:
    """Translate nodes of `op_type` in `domain` with `translator`; RegistryError when one is registered already."""
    return OP_TRANSLATORS.register((op_domain(domain), op_type), translator, replace=replace)


def unregister_op(domain: str, op_type: str) -> None:
    """Forget the translator of `op_type` in `domain` (RegistryError when there is none)."""
    OP_TRANSLATORS.unregister((op_domain(domain), op_type))


def _exporter_notes(graph: Graph) -> list[str]:
    """What the exporter recorded that changes counts (BatchNorm folded into the preceding conv)."""
    fused = 0
    for node in graph.nodes:
        for prop in node.metadata_props:
            if prop.key == "pkg.onnxscript.rewriter.rule_name" and "BatchNorm" in prop.value:
                fused += 1
    if fused:
        return [f"the exporter folded {fused} BatchNorm layer(s) into the preceding conv/dense weights"]
    return []


def _inline_functions(model: Any) -> Any:
    """Model-local functions are expanded in place, so the layers inside them are read like any other."""
    if not model.functions:
        return model
    from onnx import inliner

    try:
        return inliner.inline_local_functions(model)
    except Exception as err:  # noqa: BLE001 - the inliner rejects malformed functions
        raise InputError(f"its model-local functions cannot be expanded ({_first_line(err)})") from None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _load(path: str) -> Any:
    """Parse the protobuf (no external data); one-line InputError for anything that is not ONNX."""
    from adapters.onnx_core import parse_model, proto

    try:
        proto()
    except ImportError as err:  # as adapters.reader says it: before the bytes are blamed for it below
        raise not_installed(err, "onnx") from None
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty file, not an ONNX model")
    from google.protobuf.message import DecodeError

    try:
        with open(path, "rb") as file:  # onnx.load(path, load_external_data=False) reads and parses no more
            model = parse_model(file.read())
    except (DecodeError, ValueError, RuntimeError, OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a valid ONNX model ({_first_line(err)})") from None
    except Exception as err:  # protobuf raises assorted internal errors on corrupt bytes
        raise InputError(f"{path}: not a valid ONNX model ({type(err).__name__}: {_first_line(err)})") from None
    if model.ir_version <= 0 or not model.HasField("graph") or not model.graph.node:
        raise InputError(f"{path}: not a valid ONNX model (no graph, or a graph without nodes)")
    return model


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


GRAPH, GRAPHS = 5, 10
"""onnx.AttributeProto.GRAPH and GRAPHS."""


def _file_tensors(model: Any) -> list[Any]:
    """Every TensorProto the file holds, in the order of onnx's `external_data_helper._get_all_tensors`
    (initializers, nested graphs' included; then attribute tensors, functions' last), in one walk, not two."""
    initializers: list[Any] = []
    attributes: list[Any] = []
    _graph_tensors(model.graph, initializers, attributes)
    for function in model.functions:
        _graph_tensors(function, None, attributes)
    return initializers + attributes


def _graph_tensors(graph: Any, initializers: list[Any] | None, attributes: list[Any]) -> None:
    """The tensors of a graph (or, with `initializers` None, of a function: attribute tensors only), each
    attribute's own before those of the graphs it holds."""
    if initializers is not None:
        initializers.extend(graph.initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                attributes.append(attribute.t)
            attributes.extend(attribute.tensors)
            if attribute.type == GRAPH:
                _graph_tensors(attribute.g, initializers, attributes)
            elif attribute.type == GRAPHS:
                for body in attribute.graphs:
                    _graph_tensors(body, initializers, attributes)


def _check_external_data(tensors: list[Any], path: str) -> dict[str, int]:
    """Every external-data location must be a relative path inside the model's folder; returns the files
    that are absent -> how many tensors they hold (counts come from dims, so the audit goes on)."""
    missing: dict[str, int] = {}
    present: dict[str, bool] = {}
    """Each location checked once (exporters put every tensor in one or a few files)."""
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in tensors:
        if tensor.data_location != 1:  # onnx.TensorProto.EXTERNAL
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if location not in present:
            present[location] = _inside(folder, location, tensor.name, path)
        if not present[location]:
            missing[location] = missing.get(location, 0) + 1
    return missing


def _inside(folder: str, location: Any, tensor: str, path: str) -> bool:
    """Whether the external data file `location` exists; InputError when it is not a relative path inside `folder`."""
    if not isinstance(location, str) or "\0" in location:
        raise InputError(f"{path}: tensor {tensor!r} names its external data file with an invalid path; refused")
    target = os.path.realpath(os.path.join(folder, location))
    if not location or os.path.isabs(location) or os.path.commonpath([folder, target]) != folder:
        raise InputError(
            f"{path}: tensor {tensor!r} points at external data {location!r} outside the model's folder; refused"
        )
    return os.path.isfile(target)


def _missing_data_caveats(missing: dict[str, int]) -> list[str]:
    return [f"external data file {location!r} ({count} tensor{'s' if count > 1 else ''}) is absent: counted from "
            "the graph's dims, the weights themselves were not checked" for location, count in missing.items()]


_NEGATIVE_VARINT = re.compile(rb"[\x80-\xff]{9}\x01")
"""How protobuf writes every negative int64: ten bytes, nine with the continuation bit and then 0x01 (bit 63).
One search over the serialized types (C speed) spares the walk over each dim when no value has one."""


def _check_dims(model: Any, tensors: list[Any], path: str) -> bool:
    """No tensor or declared value may have a negative dim (sizes come from dims, so they must be sane);
    returns whether some value declares a dim of -1 ("unknown", as Paddle writes it), which shape inference
    must then see as symbolic (one pass over the dims finds both)."""
    for tensor in tensors:
        if tensor.dims and min(tensor.dims) < 0:
            raise InputError(f"{path}: tensor {tensor.name!r} has a negative dim {list(tensor.dims)}; not a valid model")
    graph = model.graph
    values = [*graph.input, *graph.output, *graph.value_info]
    if _NEGATIVE_VARINT.search(b"".join([value.type.SerializeToString() for value in values])) is None:
        return False  # no negative number in any declared type: nothing to refuse, no -1 to rewrite
    unknown = False
    for value in values:
        kind = value.type
        if kind.WhichOneof("value") != "tensor_type":
            continue
        # an unset dim_value reads 0 (a dim_param or nothing), so the smallest one is enough
        lowest = min((d.dim_value for d in kind.tensor_type.shape.dim), default=0)
        if lowest < -1:
            raise InputError(f"{path}: value {value.name!r} is declared with a negative dim; not a valid model")
        unknown = unknown or lowest == -1
    return unknown











