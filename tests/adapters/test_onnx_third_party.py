"""Model files other people published, and other people's converters: the .onnx files pip packages ship
(magika's file-type detector, written by jax2tf; silero-vad's voice activity detectors, whole networks
inside If branches, fp16 and opset variants), tf2onnx conversions and onnxslim's rewrites.

On each: the reported total is what the file holds, every weighted layer is `ok`, exit 0.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import Counter

import pytest

import auditor
from auditor import Status
from auditor.cli import main

onnx = pytest.importorskip("onnx")

WEIGHT_TYPES = {1, 2, 3, 10, 11, 16}
"""float32, uint8, int8, float16, float64, bfloat16."""


def _package_file(package: str, *parts: str) -> str:
    """A data file inside an installed package, found without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    if not os.path.exists(path):
        pytest.skip(f"{package} ships no {'/'.join(parts)}")
    return path


def _tensors(graph):
    """Every tensor a graph (and the graphs nested in its nodes) stores: initializers and Constant values."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Constant" and attribute.name == "value":
                yield attribute.t
            for inner in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _tensors(inner)


def held(path: str) -> int:
    """Elements of the multi-element float and 8-bit tensors the file stores: counted with the onnx API alone."""
    model = onnx.load(path, load_external_data=False)
    return sum(math.prod(t.dims) for t in _tensors(model.graph) if t.data_type in WEIGHT_TYPES and math.prod(t.dims) > 1)


def _assert_what_the_file_holds(path: str, capsys) -> auditor.Audit:
    result = auditor.audit(path)
    one_element = sum(p.numel for c in result.checks for p in c.layer.params if p.counted and p.numel == 1)
    assert result.totals.reported == held(path) + one_element
    assert result.totals.unverified == 0 and result.totals.unattributed == 0
    assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in result.checks), [
        (c.path, c.kind, c.note, [f.message for f in c.findings]) for c in result.checks
        if c.status not in (Status.OK, Status.NO_PARAMS)]
    assert main([path, "--strict"]) == 0
    capsys.readouterr()
    return result


def test_magikas_jax2tf_model_with_decomposed_layer_norms(capsys):
    result = _assert_what_the_file_holds(_package_file("magika", "models", "standard_v3_3", "model.onnx"), capsys)
    assert result.totals.reported == 784_214
    assert {"scale", "bias", "dense"} <= {c.kind for c in result.checks if c.reported}, "gamma, beta, projections"


@pytest.mark.parametrize("name, total", [
    ("silero_vad.onnx", 545_282),  # the 16 kHz and 8 kHz networks, one in each branch of an If
    ("silero_vad_half.onnx", 309_633),  # fp16, opset 16, the decoder's LSTM slices in both branches
    ("silero_vad_16k_sequence.onnx", 309_633),
])
def test_silero_vad_files_with_their_networks_inside_if_branches(name, total, capsys):
    result = _assert_what_the_file_holds(_package_file("silero_vad", "data", name), capsys)
    assert result.totals.reported == total
    nested = [c for c in result.checks if "_branch/" in c.path and c.reported]
    if name != "silero_vad_16k_sequence.onnx":
        assert nested and all(c.status is Status.OK for c in nested), "the branches' layers are verified"


@pytest.fixture(scope="session")
def tf2onnx_files(tmp_path_factory):
    """A tf.function CNN (its weights captured constants) and a Keras Sequential model (random weights)
    converted by tf2onnx."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf2onnx = pytest.importorskip("tf2onnx")
    keras = pytest.importorskip("keras")
    import numpy as np
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("tf2onnx")
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.DepthwiseConv2D(3),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    for variable in model.weights:
        variable.assign(rng.uniform(0.5, 1.0, variable.shape).astype("float32"))
    kernel = tf.constant(rng.uniform(0.5, 1.0, (3, 3, 3, 8)).astype("float32"))
    dense = tf.constant(rng.uniform(0.5, 1.0, (8 * 8 * 8, 10)).astype("float32"))
    bias = tf.constant(rng.uniform(0.5, 1.0, (10,)).astype("float32"))
    signature = [tf.TensorSpec((None, 16, 16, 3), tf.float32)]

    @tf.function(input_signature=signature)
    def cnn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, 2, "SAME"))
        return tf.matmul(tf.reshape(y, (-1, 8 * 8 * 8)), dense) + bias

    @tf.function(input_signature=signature)
    def sequential(x):
        return model(x, training=False)

    files = {"function": str(folder / "function.onnx"), "keras": str(folder / "keras.onnx")}
    tf2onnx.convert.from_function(cnn, input_signature=signature, opset=13, output_path=files["function"])
    tf2onnx.convert.from_function(sequential, input_signature=signature, opset=13, output_path=files["keras"])
    return files, model.count_params()


def test_tf2onnx_conversions_report_what_the_file_holds(tf2onnx_files, capsys):
    files, keras_count = tf2onnx_files
    function = auditor.audit(files["function"])  # captured constants become graph inputs, one via a Transpose
    assert function.totals.reported == function.totals.analytic == 3 * 3 * 3 * 8 + (8 * 8 * 8 + 1) * 10
    assert all(c.status in (Status.OK, Status.NO_PARAMS) for c in function.checks)
    assert any("carries no values" in n for n in function.model.notes)
    converted = _assert_what_the_file_holds(files["keras"], capsys)
    assert converted.totals.reported < keras_count, "tf2onnx folds BatchNorm into a scale and a shift"
    assert {"conv", "scale", "bias", "dense"} <= {c.kind for c in converted.checks if c.reported}


def test_onnxslim_rewrites_keep_the_count(tmp_path, capsys):
    onnxslim = pytest.importorskip("onnxslim")
    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_inception_v1.onnx")
    if not os.path.exists(light):
        pytest.skip("this onnx build ships no light models")
    slimmed = str(tmp_path / "slim.onnx")
    onnx.save(onnxslim.slim(light), slimmed)
    result = _assert_what_the_file_holds(slimmed, capsys)  # the ConstantOfShape fills are now real tensors
    assert result.totals.shared > 0, "onnxslim merges the all-zero fills it materialised: tied, counted once"

    def layers(audit):
        return Counter((c.kind, c.reported + c.layer.shared_params) for c in audit.checks if c.kind in ("conv", "dense"))

    original, rewritten = layers(auditor.audit(light)), layers(result)
    assert not rewritten - original, "every layer keeps its count"
    assert sum((original - rewritten).values()) == 2, "onnxslim drops two convs whose outputs nothing uses"
