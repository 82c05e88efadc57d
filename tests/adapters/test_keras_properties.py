"""Property tests: for random valid hyper-parameters, the analytic count and output shape equal Keras's."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from keras import layers as kl  # noqa: E402

import auditor  # noqa: E402
from adapters.keras import deferred_variables  # noqa: E402

EXAMPLES = settings(
    max_examples=int(os.environ.get("KERAS_PROPERTY_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def audit_layer(layer: Any, *inputs: Any) -> tuple[auditor.LayerCheck, Any]:
    """Call `layer` on symbolic inputs (deferred variables) and audit the one-layer model."""
    with deferred_variables():
        tensors = [keras.Input(shape) for shape in inputs]
        out = layer(*tensors)
        result = auditor.audit(keras.Model(tensors, out))
    (check,) = [c for c in result.checks if c.layer.source_type != "keras.layers.InputLayer"]
    return check, layer


def assert_agrees(check: auditor.LayerCheck, layer: Any) -> None:
    assert [f.message for f in check.findings] == [], check.layer.attrs
    assert str(check.status) == ("ok" if layer.count_params() else "no-params"), check.note
    assert check.analytic == layer.count_params() == check.reported
    if check.analytic_output_shape is not None:
        assert check.analytic_output_shape == check.layer.output_shapes[0]


@st.composite
def conv_case(draw: st.DrawFn, transpose: bool = False) -> dict[str, Any]:
    rank = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilated = not transpose and all(s == 1 for s in strides) and draw(st.booleans())
    dilation = tuple(draw(st.integers(1, 2)) if dilated else 1 for _ in range(rank))
    spatial = tuple(
        draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 9)) for k, d in zip(kernel, dilation)
    )
    paddings = ["valid", "same"] + (["causal"] if rank == 1 and not transpose else [])
    groups = 1 if transpose else draw(st.sampled_from([1, 2]))
    return {
        "rank": rank,
        "filters": groups * draw(st.integers(1, 4)),
        "in_channels": groups * draw(st.integers(1, 4)),
        "kernel_size": kernel,
        "strides": strides,
        "dilation_rate": dilation,
        "padding": draw(st.sampled_from(paddings)),
        "groups": groups,
        "use_bias": draw(st.booleans()),
        "spatial": spatial,
        "channels_first": draw(st.booleans()) and rank > 1,
    }


def _input_shape(case: dict[str, Any], channels: int) -> tuple[int, ...]:
    if case.get("channels_first"):
        return (channels, *case["spatial"])
    return (*case["spatial"], channels)


def _fmt(case: dict[str, Any]) -> str:
    return "channels_first" if case.get("channels_first") else "channels_last"


@EXAMPLES
@given(conv_case())
def test_conv(case: dict[str, Any]) -> None:
    cls = {1: kl.Conv1D, 2: kl.Conv2D, 3: kl.Conv3D}[case["rank"]]
    layer = cls(
        case["filters"], case["kernel_size"], strides=case["strides"], padding=case["padding"],
        dilation_rate=case["dilation_rate"], groups=case["groups"], use_bias=case["use_bias"],
        data_format=_fmt(case),
    )
    assert_agrees(*audit_layer(layer, _input_shape(case, case["in_channels"])))


@EXAMPLES
@given(conv_case(transpose=True), st.data())
def test_conv_transpose(case: dict[str, Any], data: st.DataObject) -> None:
    cls = {1: kl.Conv1DTranspose, 2: kl.Conv2DTranspose, 3: kl.Conv3DTranspose}[case["rank"]]
    explicit = data.draw(st.booleans())
    output_padding = tuple(data.draw(st.integers(0, s - 1)) for s in case["strides"]) if explicit else None
    layer = cls(
        case["filters"], case["kernel_size"], strides=case["strides"], padding=case["padding"],
        output_padding=output_padding, use_bias=case["use_bias"], data_format=_fmt(case),
    )
    assert_agrees(*audit_layer(layer, _input_shape(case, case["in_channels"])))


@EXAMPLES
@given(conv_case(), st.integers(1, 3))
def test_depthwise_conv(case: dict[str, Any], multiplier: int) -> None:
    if case["rank"] == 3 or case["padding"] == "causal":
        case = {**case, "rank": 2, "kernel_size": (1, 1), "strides": (1, 1), "dilation_rate": (1, 1),
                "spatial": (3, 4), "padding": "valid"}
    cls = {1: kl.DepthwiseConv1D, 2: kl.DepthwiseConv2D}[case["rank"]]
    layer = cls(
        case["kernel_size"], strides=case["strides"], padding=case["padding"], depth_multiplier=multiplier,
        dilation_rate=case["dilation_rate"], use_bias=case["use_bias"], data_format=_fmt(case),
    )
    assert_agrees(*audit_layer(layer, _input_shape(case, case["in_channels"])))


@EXAMPLES
@given(conv_case(), st.integers(1, 3))
def test_separable_conv(case: dict[str, Any], multiplier: int) -> None:
    if case["rank"] == 3 or case["padding"] == "causal":
        case = {**case, "rank": 1, "kernel_size": (2,), "strides": (1,), "dilation_rate": (1,),
                "spatial": (5,), "padding": "same", "channels_first": False}
    cls = {1: kl.SeparableConv1D, 2: kl.SeparableConv2D}[case["rank"]]
    layer = cls(
        case["filters"], case["kernel_size"], strides=case["strides"], padding=case["padding"],
        depth_multiplier=multiplier, dilation_rate=case["dilation_rate"], use_bias=case["use_bias"],
        data_format=_fmt(case),
    )
    assert_agrees(*audit_layer(layer, _input_shape(case, case["in_channels"])))


@EXAMPLES
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.integers(1, 40), st.integers(1, 40), st.booleans())
def test_dense_on_nd_inputs(lead: list[int], features: int, units: int, bias: bool) -> None:
    assert_agrees(*audit_layer(kl.Dense(units, use_bias=bias), (*lead, features)))


@EXAMPLES
@given(st.integers(1, 500), st.integers(1, 64), st.lists(st.integers(1, 6), min_size=1, max_size=2))
def test_embedding(vocab: int, dim: int, index_shape: list[int]) -> None:
    with deferred_variables():
        tokens = keras.Input(tuple(index_shape), dtype="int32")
        layer = kl.Embedding(vocab, dim)
        result = auditor.audit(keras.Model(tokens, layer(tokens)))
    assert_agrees(result.checks[0], layer)


@EXAMPLES
@given(
    st.sampled_from([kl.LSTM, kl.GRU, kl.SimpleRNN]), st.integers(1, 16), st.integers(1, 16), st.integers(1, 5),
    st.booleans(), st.booleans(), st.booleans(), st.booleans(),
)
def test_recurrent(cls: type, units: int, features: int, steps: int, bias: bool, reset_after: bool,
                   bidirectional: bool, sequences: bool) -> None:
    extra = {"reset_after": reset_after} if cls is kl.GRU else {}
    layer = cls(units, use_bias=bias, return_sequences=sequences, **extra)
    if bidirectional:
        layer = kl.Bidirectional(layer)
    assert_agrees(*audit_layer(layer, (steps, features)))


@EXAMPLES
@given(
    st.integers(1, 4), st.integers(1, 8), st.one_of(st.none(), st.integers(1, 8)),
    st.one_of(st.none(), st.integers(1, 12)), st.booleans(), st.integers(1, 12), st.integers(1, 12),
    st.one_of(st.none(), st.integers(1, 12)), st.integers(1, 5), st.integers(1, 5),
)
def test_multi_head_attention(heads: int, key_dim: int, value_dim: int | None, output: int | None, bias: bool,
                              q_dim: int, v_dim: int, k_dim: int | None, lq: int, lk: int) -> None:
    layer = kl.MultiHeadAttention(heads, key_dim, value_dim=value_dim, output_shape=output, use_bias=bias)
    with deferred_variables():
        query, value = keras.Input((lq, q_dim)), keras.Input((lk, v_dim))
        key = keras.Input((lk, k_dim)) if k_dim else None
        out = layer(query, value, key=key) if key is not None else layer(query, value)
        inputs = [query, value] + ([key] if key is not None else [])
        result = auditor.audit(keras.Model(inputs, out))
    (check,) = [c for c in result.checks if c.kind == "attention"]
    assert_agrees(check, layer)


@EXAMPLES
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=3), st.sampled_from([-1, 1]), st.booleans(), st.booleans(),
)
def test_batch_norm(shape: list[int], axis: int, scale: bool, center: bool) -> None:
    layer = kl.BatchNormalization(axis=axis, scale=scale, center=center)
    check, layer = audit_layer(layer, tuple(shape))
    assert_agrees(check, layer)
    assert check.analytic_trainable == sum(int(w.shape[0]) for w in layer.trainable_weights)


@EXAMPLES
@given(
    st.integers(1, 3), st.lists(st.integers(1, 3), min_size=3, max_size=3), st.lists(st.integers(2, 9), min_size=3,
                                                                                     max_size=3),
    st.sampled_from(["valid", "same"]), st.booleans(),
)
def test_pooling_padding_upsampling(rank: int, pool: list[int], spatial: list[int], padding: str, avg: bool) -> None:
    dims = {1: "1D", 2: "2D", 3: "3D"}[rank]
    pool_cls = getattr(kl, f"{'Average' if avg else 'Max'}Pooling{dims}")
    size = tuple(min(p, n) for p, n in zip(pool[:rank], spatial[:rank]))
    shape = (*spatial[:rank], 2)
    for layer in (
        pool_cls(size, padding=padding),
        getattr(kl, f"ZeroPadding{dims}")(pool[0] if rank == 1 else tuple(pool[:rank])),
        getattr(kl, f"UpSampling{dims}")(pool[0] if rank == 1 else tuple(pool[:rank])),
        getattr(kl, f"GlobalAveragePooling{dims}")(keepdims=avg),
    ):
        assert_agrees(*audit_layer(layer, shape))
