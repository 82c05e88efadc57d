"""keras.applications models (weights=None) audit to Keras's own count and to the published table.

Each model is built once per session with deferred variables (shapes, no weight memory).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

import auditor  # noqa: E402
from adapters.keras import deferred_variables  # noqa: E402

PUBLISHED = {
    "ResNet50": 25_636_712,
    "MobileNetV2": 3_538_984,
    "EfficientNetB0": 5_330_571,
    "DenseNet121": 8_062_504,
    "InceptionV3": 23_851_784,
    "Xception": 22_910_480,
    "ConvNeXtTiny": 28_589_128,
    "NASNetMobile": 5_326_716,
}
"""Total parameters from the Keras Applications table (keras.io/api/applications), all matched."""


@pytest.fixture(scope="module", params=sorted(PUBLISHED))
def built(request: pytest.FixtureRequest) -> tuple[str, int, auditor.Audit]:
    name = request.param
    with deferred_variables():
        model = getattr(keras.applications, name)(weights=None)
        return name, int(model.count_params()), auditor.audit(model)


def test_reported_total_is_keras_count_and_published(built: tuple[str, int, auditor.Audit]) -> None:
    name, keras_count, result = built
    assert result.totals.reported == keras_count == PUBLISHED[name]
    assert result.totals.analytic == keras_count
    assert not result.findings


def test_every_layer_with_params_is_ok(built: tuple[str, int, auditor.Audit]) -> None:
    _, _, result = built
    bad = [(c.path, str(c.status), c.note) for c in result.checks if c.reported and str(c.status) != "ok"]
    assert bad == []
    assert result.totals.mismatches == 0 and result.totals.unverified == 0


def test_output_shapes_recomputed_everywhere(built: tuple[str, int, auditor.Audit]) -> None:
    _, _, result = built
    missing = [c.path for c in result.checks if c.kind != "tensor_op" and c.analytic_output_shape is None]
    assert missing == []


def test_split_counts_batchnorm_stats_as_non_trainable(built: tuple[str, int, auditor.Audit]) -> None:
    _, _, result = built
    stats = sum(
        p.numel for c in result.checks for p in c.layer.params if p.name in ("moving_mean", "moving_variance")
    )
    frozen_inputs = sum(c.reported for c in result.checks if c.kind == "input_normalization")
    assert result.totals.non_trainable == stats + frozen_inputs
    assert result.totals.buffers == 0
