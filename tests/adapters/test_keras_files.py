"""Saved Keras models: `.keras` and legacy `.h5` round trips, safe_mode refusals, unreadable files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")
from keras import layers as kl  # noqa: E402
from support.keras_models import mixed_model  # noqa: E402

import auditor  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from auditor.report.audit import audit_to_dict  # noqa: E402


def comparable(result: auditor.Audit) -> dict[str, Any]:
    """The JSON report without the fields that name where the model came from."""
    report = audit_to_dict(result)
    report.pop("model")
    report.pop("notes")
    return report


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    model = mixed_model()
    folder = tmp_path_factory.mktemp("keras_files")
    model.save(folder / "mixed.keras")
    model.save(folder / "mixed.h5")
    result = auditor.audit(model)
    assert result.consistent, [f.message for c in result.checks for f in c.findings]
    return comparable(result), folder


@pytest.mark.parametrize("filename", ["mixed.keras", "mixed.h5"])
def test_round_trip_gives_the_same_report(saved: tuple[dict[str, Any], Path], filename: str) -> None:
    expected, folder = saved
    result = auditor.audit(str(folder / filename))
    assert comparable(result) == expected
    assert result.model.source == str(folder / filename)


@pytest.mark.parametrize("filename", ["mixed.keras", "mixed.h5"])
def test_files_are_read_without_loading_weight_data(
    saved: tuple[dict[str, Any], Path], filename: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load_model must not be needed for a plain model")

    monkeypatch.setattr(keras.saving, "load_model", refuse)
    result = auditor.audit(saved[1] / filename)
    assert any("no weight data loaded" in n for n in result.model.notes)


def test_small_application_round_trip(tmp_path: Path) -> None:
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    model.save(tmp_path / "mobilenet.keras")
    result = auditor.audit(str(tmp_path / "mobilenet.keras"))
    assert result.totals.reported == model.count_params()
    assert comparable(result) == comparable(auditor.audit(model))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_trained_model_saved_with_its_optimizer_state_audits_like_the_model(tmp_path: Path, suffix: str) -> None:
    """What most saved models are: compiled and fitted, so the file also holds Adam's moments and step
    count; they are no layer's weights and must neither fail the read nor enter the count."""
    import numpy as np

    model = keras.Sequential([keras.Input((8,)), kl.Dense(16, activation="relu"), kl.BatchNormalization(),
                              kl.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 8)), np.zeros((4, 2)), epochs=1, verbose=0)
    model.save(tmp_path / f"trained{suffix}")
    result = auditor.audit(str(tmp_path / f"trained{suffix}"))
    assert result.consistent and result.totals.reported == model.count_params() == 8 * 16 + 16 + 4 * 16 + 16 * 2 + 2
    assert comparable(result) == comparable(auditor.audit(model))
    if suffix == ".keras":  # Adam: two moments for each of the 6 trainable variables, its step and learning rate
        assert "the file also stores optimizer state (14 variables), not part of the model's count" in \
            result.model.notes


def lambda_model() -> keras.Model:
    x = keras.Input((3,))
    return keras.Model(x, kl.Lambda(lambda t: t * 2)(x))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_bytecode_is_refused_with_safe_mode_on(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"lambda{suffix}"
    lambda_model().save(path)
    with pytest.raises(InputError, match="Lambda layer with Python bytecode.*safe_mode on") as err:
        auditor.audit(str(path))
    assert "\n" not in str(err.value)


def test_config_and_weights_that_disagree_are_refused(saved: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    source = saved[1] / "mixed.keras"
    target = tmp_path / "tampered.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.namelist():
            data = old.read(item)
            if item == "config.json":
                data = json.dumps(_widen_last_dense(json.loads(data))).encode()
            new.writestr(item, data)
    with pytest.raises(InputError, match="do not match the model config"):
        auditor.audit(str(target))


def _widen_last_dense(config: dict[str, Any]) -> dict[str, Any]:
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"][-1]
    dense["config"]["units"] += 1
    return config


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("garbage.keras", b"not a zip at all"),
        ("garbage.h5", b"\x89HDF\r\n\x1a\n truncated"),
        ("empty.keras", b""),
    ],
)
def test_unreadable_files_are_one_line_input_errors(tmp_path: Path, filename: str, content: bytes) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        auditor.audit(str(path))
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_archive_is_input_error(saved: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    data = (saved[1] / "mixed.keras").read_bytes()
    path = tmp_path / "truncated.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated.keras"):
        auditor.audit(str(path))


def test_archive_without_config_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "noconfig.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(InputError, match="not a readable Keras archive"):
        auditor.audit(str(path))


@keras.saving.register_keras_serializable(package="nn_auditor_tests")
class _Registered(kl.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x


def test_unknown_custom_class_is_input_error(tmp_path: Path) -> None:
    x = keras.Input((3,))
    path = tmp_path / "custom.keras"
    keras.Model(x, _Registered()(x)).save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    text = json.dumps(config).replace("nn_auditor_tests>_Registered", "nowhere>Missing")
    broken = tmp_path / "missing_class.keras"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(broken, "w") as new:
        for item in old.namelist():
            new.writestr(item, text if item == "config.json" else old.read(item))
    with pytest.raises(InputError, match="Keras cannot load this model"):
        auditor.audit(str(broken))


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        auditor.audit(str(tmp_path / "absent.keras"))


def test_weight_shapes_read_through_the_stored_window_equal_zipfiles(saved: tuple[dict[str, Any], Path],
                                                                      tmp_path: Path) -> None:
    """The seek-free window over an uncompressed member reads the same datasets as ZipFile.open;
    a deflated member (some zip tools recompress) still goes through ZipFile.open."""
    from adapters import keras_files

    path = saved[1] / "mixed.keras"
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
        assert info.compress_type == zipfile.ZIP_STORED, "Keras stores weights uncompressed"
        through_window = keras_files._archive_weights(archive)
    recompressed = tmp_path / "deflated.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(recompressed, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member.filename, source.read(member))
    with zipfile.ZipFile(recompressed) as archive:
        assert keras_files._archive_weights(archive) == through_window
    assert len(through_window.root.variables) == len(mixed_model().weights)
    assert comparable(auditor.audit(str(recompressed))) == saved[0]
