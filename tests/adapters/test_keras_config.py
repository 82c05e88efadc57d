"""Saved Keras models read from their config and weight shapes alone: the same report as Keras's own path.

The config reader (`adapters.keras_config`) never imports Keras; each test compares what it gives with
the audit of the live model Keras built (today's Keras path), or checks when and why it hands over to Keras.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")
from keras import layers as kl  # noqa: E402
from support.keras_models import mixed_model  # noqa: E402

import auditor  # noqa: E402
from adapters.keras_config import NOTE  # noqa: E402
from auditor.report.audit import audit_to_dict  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

APPLICATIONS = ("ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2", "MobileNetV3Small", "EfficientNetB0",
                "EfficientNetV2B0", "DenseNet121", "InceptionV3", "Xception", "ConvNeXtTiny", "NASNetMobile")
"""Twelve keras.applications graphs (weights=None): residual, depthwise, squeeze-excite, dense, inception
and NASNet cells, LayerScale; MobileNetV3Small's hard-swish is made of keras.ops calls."""

LEGACY = ("ResNet50", "MobileNetV3Small", "DenseNet121")
"""The applications also saved as legacy .h5 (whose config records no module and no build config)."""


def report(result: auditor.Audit) -> tuple[dict[str, Any], list[str]]:
    """The JSON report without where the model came from, and its notes apart."""
    data = audit_to_dict(result)
    data.pop("model")
    return data, data.pop("notes")


@pytest.fixture(scope="session")
def applications(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    """Each application: the live model's report and the folder where it was saved (built once per session)."""
    folder = tmp_path_factory.mktemp("applications")
    found = {}
    for name in APPLICATIONS:
        model = getattr(keras.applications, name)(weights=None)
        model.save(folder / f"{name}.keras")
        if name in LEGACY:
            model.save(folder / f"{name}.h5")
        found[name] = (report(auditor.audit(model)), folder)
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("name", "suffix"), [(n, ".keras") for n in APPLICATIONS] + [(n, ".h5") for n in LEGACY])
def test_application_file_reports_what_the_live_model_does(applications: dict[str, Any], name: str,
                                                          suffix: str) -> None:
    (expected, live_notes), folder = applications[name]
    got, notes = report(auditor.audit(str(folder / f"{name}{suffix}")))
    assert got == expected
    assert notes == [NOTE, *live_notes], "read without Keras, with the live model's own notes"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    model = mixed_model()
    model.save(folder / "mixed.keras")
    model.save(folder / "mixed.h5")
    return folder


@pytest.mark.parametrize("filename", ["mixed.keras", "mixed.h5"])
def test_audit_of_a_keras_file_imports_neither_tensorflow_nor_keras(mixed: Path, filename: str) -> None:
    """Run the CLI where importing tensorflow or keras fails, as on a machine with h5py alone."""
    path = str(mixed / filename)
    code = (
        "import sys\n"
        "for name in ('torch', 'tensorflow', 'keras'):\n"
        "    sys.modules[name] = None\n"
        "from auditor.cli import main\n"
        f"status = main([{path!r}, '--format', 'json'])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras') and sys.modules[m]]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
    totals = json.loads(done.stdout)["totals"]
    assert totals["reported"] == totals["analytic"] == mixed_model().count_params()


def open_model() -> keras.Model:
    """A conv net with open spatial dims: its shapes come from the input shape given to the audit."""
    image = keras.Input((None, None, 3))
    x = kl.Conv2D(8, 3, strides=2, padding="same")(image)
    x = kl.BatchNormalization()(x)
    x = kl.ReLU()(x)
    skip = kl.Conv2D(8, 1)(x)
    x = kl.SeparableConv2D(8, 3, padding="same")(x)
    x = kl.Add()([x, skip])
    x = kl.ZeroPadding2D(1)(x)
    x = kl.MaxPooling2D(3, strides=2)(x)
    x = kl.Conv2DTranspose(4, 2, strides=2)(x)
    return keras.Model(image, kl.Dense(5)(kl.GlobalAveragePooling2D()(x)), name="open")


@pytest.mark.parametrize("shape", [(1, 64, 64, 3), (2, 37, 50, 3)])
def test_shapes_propagated_from_a_given_input_shape_are_keras_own(tmp_path: Path, shape: tuple[int, ...]) -> None:
    model = open_model()
    model.save(tmp_path / "open.keras")
    got, notes = report(auditor.audit(str(tmp_path / "open.keras"), input_shapes=[shape]))
    expected, _ = report(auditor.audit(model, input_shapes=[shape]))
    assert got == expected
    assert any("propagated through nn-auditor's rules" in n for n in notes)
    assert got["layers"][-1]["analytic_output_shape"] == [shape[0], 5]


@keras.saving.register_keras_serializable(package="nn_auditor_config_tests")
class _Doubling(kl.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x * 2


def test_a_class_of_your_own_is_read_with_keras_and_says_so(tmp_path: Path) -> None:
    x = keras.Input((3,))
    model = keras.Model(x, kl.Dense(2)(_Doubling()(x)))
    model.save(tmp_path / "custom.keras")
    result = auditor.audit(str(tmp_path / "custom.keras"))
    assert result.totals.reported == result.totals.analytic == 8
    assert any(n.startswith("read with Keras because") and "a class of your own" in n for n in result.model.notes)
    assert NOTE not in result.model.notes


def test_an_operation_in_a_legacy_config_is_not_taken_for_a_layer(tmp_path: Path) -> None:
    """`x + 3` saves as a bare "Add" in a legacy .h5 (no module): an operation (keras.ops.Add), not keras.layers.Add."""
    x = keras.Input((4,))
    model = keras.Model(x, kl.Dense(2)(x + 3.0))
    model.save(tmp_path / "ops.h5")
    result = auditor.audit(str(tmp_path / "ops.h5"))
    add = next(c for c in result.checks if c.path.startswith("add"))
    assert (add.kind, add.layer.source_type) == ("tensor_op", "keras.ops.Add")
    assert result.totals.reported == result.totals.analytic == 10

