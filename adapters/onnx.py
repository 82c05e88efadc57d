"""ONNX adapter: read a `.onnx` file into the IR without loading or copying weight data.

Loading is safe by construction: protobuf parsing runs no code; external data is never read
(tensor sizes come from the TensorProto dims) and every external-data path must stay inside the
model's folder.  Shape inference runs on a copy whose initializers are turned into typed graph
inputs, so a multi-GB model is inferred without copying its weights.

Custom domains: `register_op("com.example", "FusedDense", translate)` makes the graph walk call
`translate(node, graph, is_constant) -> Translation` for that op (see `adapters.onnx_ops`), so its
weights land on a layer of a kind a rule knows.
"""

from __future__ import annotations

import os
from typing import Any

from adapters.onnx_graph import Graph, build_layers, op_domain, ordered_nodes
from adapters.onnx_ops import OP_TRANSLATORS, Translation, Translator
from auditor.errors import InputError
from auditor.ir import ModelIR, Shape
from auditor.options import AuditOptions, resolve

__all__ = ["OP_TRANSLATORS", "Translation", "Translator", "read_onnx", "register_op", "unregister_op"]

SMALL_TENSOR = 64
"""Initializers with at most this many elements keep their data for shape inference (Reshape targets)."""


def read_onnx(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Read the ONNX model at `path`; `input_shapes` (e.g. (1, 3, 224, 224)) fix the inputs' dims, in order."""
    options = resolve(options, values)
    model = _load(path)
    _check_external_data(model, path)
    _check_dims(model, path)
    try:
        nodes = ordered_nodes(model)
        inferred = _infer_shapes(model, nodes, options.input_shapes, path)
        graph = Graph.from_model(model, inferred)
        layers, notes = build_layers(graph)
    except InputError as err:
        message = str(err)
        raise InputError(message if message.startswith(f"{path}: ") else f"{path}: {message}") from None
    return ModelIR(
        name=options.name or os.path.basename(path),
        framework="onnx",
        source=options.source or path,
        layers=layers,
        input_shapes=graph.input_shapes(),
        framework_total=None,
        path_separator=".",
        notes=notes,
        exporter="ONNX",
    )


def register_op(domain: str, op_type: str, translator: Translator, *, replace: bool = False) -> Translator:
    """Translate nodes of `op_type` in `domain` with `translator`; RegistryError when one is registered already."""
    return OP_TRANSLATORS.register((op_domain(domain), op_type), translator, replace=replace)


def unregister_op(domain: str, op_type: str) -> None:
    """Forget the translator of `op_type` in `domain` (RegistryError when there is none)."""
    OP_TRANSLATORS.unregister((op_domain(domain), op_type))


def _load(path: str) -> Any:
    """Parse the protobuf (no external data); one-line InputError for anything that is not ONNX."""
    import onnx
    from google.protobuf.message import DecodeError

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty file, not an ONNX model")
    try:
        model = onnx.load(path, load_external_data=False)
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


def _check_external_data(model: Any, path: str) -> None:
    """Every external-data location must be a relative path inside the model's folder."""
    from onnx.external_data_helper import _get_all_tensors

    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in _get_all_tensors(model):
        if tensor.data_location != 1:  # onnx.TensorProto.EXTERNAL
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if not isinstance(location, str) or "\0" in location:
            raise InputError(f"{path}: tensor {tensor.name!r} names its external data file with an invalid path; refused")
        target = os.path.realpath(os.path.join(folder, location))
        if not location or os.path.isabs(location) or os.path.commonpath([folder, target]) != folder:
            raise InputError(
                f"{path}: tensor {tensor.name!r} points at external data {location!r} outside the model's folder; refused"
            )
        if not os.path.isfile(target):
            raise InputError(f"{path}: tensor {tensor.name!r} needs external data file {location!r}, which is missing")


def _check_dims(model: Any, path: str) -> None:
    """No tensor or declared value may have a negative dim (sizes come from dims, so they must be sane)."""
    from onnx.external_data_helper import _get_all_tensors

    for tensor in _get_all_tensors(model):
        if any(int(d) < 0 for d in tensor.dims):
            raise InputError(f"{path}: tensor {tensor.name!r} has a negative dim {list(tensor.dims)}; not a valid model")
    graph = model.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.type.WhichOneof("value") != "tensor_type":
            continue
        dims = value.type.tensor_type.shape.dim
        if any(d.HasField("dim_value") and d.dim_value < 0 for d in dims):
            raise InputError(f"{path}: value {value.name!r} is declared with a negative dim; not a valid model")


def _infer_shapes(model: Any, nodes: list[Any], input_shapes: tuple[Shape, ...] | None, path: str) -> Any:
    """Shape-inferred copy of the graph (`nodes` in topological order) with weights as shaped inputs.

    No weight bytes are copied.  InputError when ONNX's own strict inference finds shapes or types that
    cannot fit together (a graph no runtime would run).
    """
    import onnx
    from onnx import helper, shape_inference

    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.graph.name = model.graph.name
    light.graph.node.extend(nodes)
    light.graph.output.extend(model.graph.output)
    light.graph.input.extend(model.graph.input)
    declared = {i.name for i in model.graph.input}
    for tensor in model.graph.initializer:
        small = _numel(tensor.dims) <= SMALL_TENSOR and tensor.data_location != 1
        if small:
            light.graph.initializer.append(tensor)
        elif tensor.name not in declared:
            light.graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    if input_shapes is not None:
        _fix_input_shapes(light, input_shapes, {t.name for t in model.graph.initializer}, path)
    try:
        return shape_inference.infer_shapes(light, strict_mode=True, data_prop=True)
    except shape_inference.InferenceError as err:
        if "Incompatible dimensions" in str(err) or "[TypeInferenceError]" in str(err):
            raise InputError(f"{path}: the graph's shapes or types do not fit together ({_inference_reason(err)})") from None
    except Exception:  # noqa: BLE001 - inference is a help: fall back below
        pass
    try:
        return shape_inference.infer_shapes(light, data_prop=True)
    except Exception:  # inference is a help, not a requirement: fall back to the declared shapes
        return light


def _inference_reason(err: Exception) -> str:
    """The op and message of an ONNX inference error, on one line."""
    text = " ".join(str(err).split()).replace("[ShapeInferenceError] Inference error(s): ", "")
    return text[:200]


def _numel(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total


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
