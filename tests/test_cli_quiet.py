"""Frameworks' log lines never reach the user's stderr (unless --debug): one line for an error, none for a
good audit, even when the user's environment lets TensorFlow talk (TF_CPP_MIN_LOG_LEVEL=0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TALKATIVE = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "0"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=REPO, env=TALKATIVE, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras = pytest.importorskip("keras")
    path = tmp_path_factory.mktemp("keras") / "small.keras"
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.save(str(path))
    return path


def test_a_good_keras_audit_writes_nothing_on_stderr(keras_file):
    done = _run(str(keras_file), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["totals"]["reported"] == 80 + 54_090


def test_a_keras_error_after_tensorflow_is_imported_is_exactly_one_line(tmp_path):
    pytest.importorskip("keras")
    path = tmp_path / "unknown_class.keras"
    config = {"module": "keras.layers", "class_name": "NoSuchLayerAnywhere", "config": {}, "registered_name": None}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", '{"keras_version": "3.15.0"}')
    done = _run(str(path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"audit: error: {path}: "), done.stderr


def test_readers_run_silenced_unless_debug(tmp_path, monkeypatch, capfd):
    """The reader (and the framework import inside it) writes to descriptor 2: dropped, or kept with debug."""
    import adapters
    from auditor.ir import ModelIR

    def chatty_reader(path, options):
        os.write(2, b"I0000 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n")
        return ModelIR("m", "keras", path)

    monkeypatch.setattr(adapters, "reader", lambda module, function: chatty_reader)
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    assert adapters.read_file(str(path)).name == "m"
    assert capfd.readouterr().err == ""
    adapters.read_file(str(path), debug=True)
    assert "cpu_feature_guard" in capfd.readouterr().err
