"""Model files generated at benchmark time: ONNX with external data, ONNX exports, `.keras` archives."""

from __future__ import annotations

import os
from typing import Any

CHUNK_ROWS = 1024
"""Rows of a weight matrix generated and written at a time (keeps the generator's memory small)."""


def synthetic_mlp_onnx(folder: str, width: int, depth: int, name: str = "model.onnx") -> str:
    """A stack of `depth` MatMul+Add layers of `width`², weights random float32 in `{name}.data`."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    os.makedirs(folder, exist_ok=True)
    path, data_name = os.path.join(folder, name), f"{name}.data"
    rng = np.random.default_rng(0)
    nodes, initializers, previous = [], [], "x"
    with open(os.path.join(folder, data_name), "wb") as data:
        for i in range(depth):
            weight = _external(data, data_name, f"w{i}", (width, width), rng)
            bias = _external(data, data_name, f"b{i}", (width,), rng)
            initializers += [weight, bias]
            nodes.append(helper.make_node("MatMul", [previous, weight.name], [f"mm{i}"], name=f"layer{i}/MatMul"))
            nodes.append(helper.make_node("Add", [f"mm{i}", bias.name], [f"h{i}"], name=f"layer{i}/Add"))
            previous = f"h{i}"
    graph = helper.make_graph(
        nodes, "synthetic_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, width])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def _external(data: Any, location: str, name: str, shape: tuple[int, ...], rng: Any) -> Any:
    """Append a random non-zero tensor to `data` and return its TensorProto pointing there."""
    import numpy as np
    from onnx import TensorProto

    offset = data.tell()
    rows = shape[0] if len(shape) > 1 else 1
    row_len = int(np.prod(shape)) // rows
    for start in range(0, rows, CHUNK_ROWS):
        count = min(CHUNK_ROWS, rows - start)
        block = rng.random((count, row_len), dtype=np.float32) + np.float32(0.01)
        data.write(block.tobytes())
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", data.tell() - offset)):
        tensor.external_data.add(key=key, value=str(value))
    return tensor


def export_torch_onnx(folder: str, model: Any) -> str:
    """torch.onnx.export (dynamo, the default) of a TorchModel with randomised weights; weights go to a side file."""
    import torch

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        for p in model.module.parameters():
            p.uniform_(0.01, 0.02)
    torch.onnx.export(model.module, (model.inputs,), path, dynamo=True, external_data=True)
    return path


def save_keras(folder: str, model: Any, filename: str = "model.keras") -> str:
    """model.save to `folder/filename` (.keras or legacy .h5; uncompiled: no optimizer variables)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename)
    model.save(path)
    return path


ZOO_KERAS = ("MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "EfficientNetB1",
             "DenseNet121", "ResNet50", "NASNetMobile", "Xception")
"""The Keras half of the 20-model folder: keras.applications built with weights=None."""


def model_zoo(folder: str) -> str:
    """20 models in `folder`, as a user's downloads might hold: 10 `.keras` applications and 10 ONNX MLPs of
    growing depth (each with its external data file)."""
    import keras

    for index, name in enumerate(ZOO_KERAS):
        model = getattr(keras.applications, name)(weights=None)
        model.save(os.path.join(folder, f"{index:02d}-{name.lower()}.keras"))
        keras.backend.clear_session()
    for depth in range(2, 12):
        synthetic_mlp_onnx(folder, 256, depth, f"{8 + depth:02d}-mlp{depth}.onnx")
    return folder


def folder_size_mb(folder: str) -> float:
    """Total size of the files in `folder`, in MB."""
    total = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    return round(total / 2**20, 1)
