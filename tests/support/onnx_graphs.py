"""Small ONNX graphs written with onnx.helper, for adapter tests that need no exporter."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weight(name: str, shape: Sequence[int], dtype: type = np.float32) -> TensorProto:
    """A deterministic non-zero initializer (exporters drop all-zero tensors; we never need them)."""
    count = int(np.prod(shape)) if shape else 1
    return numpy_helper.from_array((np.arange(count, dtype=dtype) % 7 + 1).reshape(shape), name)


def model(nodes: list, inputs: list, outputs: list, initializers: list, opset: int = 20) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def value(name: str, shape: Sequence[int | str] | None, dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def save(proto: onnx.ModelProto, folder: str, name: str = "model.onnx") -> str:
    path = os.path.join(folder, name)
    onnx.save(proto, path)
    return path


def conv_dense_graph(batch: int | str = 1) -> onnx.ModelProto:
    """Conv(3->8, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> MatMul + Add (8->4)."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "fc.weight"], ["m"], name="fc_matmul"),
        helper.make_node("Add", ["m", "fc.bias"], ["y"], name="fc_add"),
    ]
    inits = [weight("w", (8, 3, 3, 3)), weight("b", (8,)), weight("fc.weight", (8, 4)), weight("fc.bias", (4,))]
    return model(nodes, [value("x", [batch, 3, 16, 16])], [value("y", None)], inits)


def point_first_weight_at(proto: onnx.ModelProto, location: str) -> onnx.ModelProto:
    """Make the graph's first initializer external data at `location` (its own bytes dropped)."""
    tensor = proto.graph.initializer[0]
    tensor.ClearField("float_data")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    return proto
