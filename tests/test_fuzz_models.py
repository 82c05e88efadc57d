"""Fuzz: random valid small models in PyTorch, Keras and ONNX must audit cleanly.

For every drawn model: the audit does not raise, `totals.reported` equals the framework's own count, and
every layer whose kind has a rule is `ok` (or `no-params`).  Example counts are bounded so the file runs
in about two minutes on two cores; `NN_AUDITOR_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz_models.py`
is the long run (the number is the examples per test).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from support import random_models as rm  # noqa: E402

import auditor  # noqa: E402
from auditor.count import Status  # noqa: E402
from auditor.rules import get_rule  # noqa: E402

LONG_RUN = int(os.environ.get("NN_AUDITOR_FUZZ_EXAMPLES", "0"))


def fuzz(default: int) -> Any:
    """Hypothesis settings: `default` examples (NN_AUDITOR_FUZZ_EXAMPLES overrides), no deadline, no database."""
    return settings(max_examples=LONG_RUN or default, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_clean(result: auditor.Audit, framework_count: int) -> None:
    """Totals equal the framework's count; every layer a rule knows is confirmed by it."""
    assert result.totals.reported == framework_count
    bad = [(c.path, c.kind, str(c.status), c.note, [f.message for f in c.findings]) for c in result.checks
           if get_rule(c.kind) is not None and c.status not in (Status.OK, Status.NO_PARAMS)]
    assert bad == []
    assert not result.findings, [f.message for f in result.findings]


# ---- PyTorch --------------------------------------------------------------------------------------


@fuzz(200)
@given(drawn=rm.image_models())
def test_random_torch_image_models(drawn: tuple[tuple[int, int, int], rm.Spec]) -> None:
    torch = pytest.importorskip("torch")
    shape, spec = drawn
    model = rm.torch_image_model(spec)
    result = auditor.audit(model, input_shape=(2, *shape))
    assert_clean(result, sum(p.numel() for p in model.parameters()))
    assert result.totals.buffers == sum(b.numel() for b in model.buffers())
    assert torch is not None


@fuzz(100)
@given(drawn=rm.sequence_models())
def test_random_torch_sequence_models(drawn: tuple[tuple[int, int], rm.Spec]) -> None:
    pytest.importorskip("torch")
    shape, spec = drawn
    model = rm.torch_sequence_model(spec)
    result = auditor.audit(model, input_shape=shape, input_dtype="int64")
    assert_clean(result, sum(p.numel() for p in model.parameters()))


# ---- Keras ----------------------------------------------------------------------------------------


@fuzz(60)
@given(drawn=rm.image_models())
def test_random_keras_image_models(drawn: tuple[tuple[int, int, int], rm.Spec]) -> None:
    pytest.importorskip("keras")
    shape, spec = drawn
    assume(rm.keras_spec_fits(spec))
    model = rm.keras_image_model(spec, shape)
    assert_clean(auditor.audit(model), model.count_params())


@fuzz(40)
@given(drawn=rm.sequence_models())
def test_random_keras_sequence_models(drawn: tuple[tuple[int, int], rm.Spec]) -> None:
    pytest.importorskip("keras")
    (_, steps), spec = drawn
    model = rm.keras_sequence_model(spec, steps)
    assert_clean(auditor.audit(model), model.count_params())


# ---- ONNX -----------------------------------------------------------------------------------------


@fuzz(300)
@given(drawn=rm.image_models(), batch=st.sampled_from([1, 3, "N"]))
def test_random_onnx_graphs(drawn: tuple[tuple[int, int, int], rm.Spec], batch: Any, tmp_path_factory: Any) -> None:
    onnx = pytest.importorskip("onnx")
    shape, spec = drawn
    proto, count = rm.onnx_image_model(spec, shape)
    proto.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    if isinstance(batch, int):
        proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = batch
    else:
        proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = batch
    path = tmp_path_factory.mktemp("fuzz") / "model.onnx"
    onnx.save(proto, str(path))
    result = auditor.audit(str(path))
    assert_clean(result, count)
    assert result.totals.macs >= 0 and (result.totals.macs_complete or not isinstance(batch, int))
