"""Keras `.weights.h5` files alone (no config): shapes via h5py, counts equal to the model's own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import auditor  # noqa: E402


def test_keras_weights_h5_counts_like_count_params(tmp_path: Path) -> None:
    model = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"), keras.layers.BatchNormalization(name="bn"),
        keras.layers.Flatten(), keras.layers.Dense(5, name="dense"), keras.layers.Embedding(7, 3, name="emb"),
        keras.layers.LayerNormalization(name="ln")])
    path = tmp_path / "model.weights.h5"
    model.save_weights(str(path))
    report = auditor.audit(path)
    assert report.totals.reported == model.count_params()
    assert report.totals.non_trainable == 8, "BatchNorm's moving mean and variance, as Keras counts them"
    kinds = {c.path: c.kind for c in report.checks}
    assert kinds == {"bn": "batch_norm", "conv": "conv", "dense": "dense", "emb": "embedding", "ln": "layer_norm"}
    conv = next(c for c in report.checks if c.path == "conv")
    assert conv.layer.attrs["kernel_size"] == (3, 3) and conv.layer.attrs["in_channels"] == 3
    assert report.model.framework == "keras_weights"
