"""Keras adapter on small models: Sequential, Functional with merges, nested, subclassed, the seed U-Net."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
from keras import layers as kl  # noqa: E402

import auditor  # noqa: E402
from adapters import keras as keras_adapter  # noqa: E402
from adapters.keras_layers import DuplicateLayerError  # noqa: E402
from auditor.errors import InputError  # noqa: E402


def seed_unet() -> keras.Model:
    """Seed 001's U-Net exactly as the user wrote it (Keras 3 syntax for Input and Model)."""
    from keras.layers import Conv2D, Dropout, Input, MaxPooling2D, UpSampling2D, concatenate
    from keras.models import Model

    inputs = Input((256, 256, 1))
    conv1 = Conv2D(64, 3, activation="relu", padding="same")(inputs)
    conv1 = Conv2D(64, 3, activation="relu", padding="same")(conv1)
    pool1 = MaxPooling2D(pool_size=(2, 2))(conv1)
    conv2 = Conv2D(128, 3, activation="relu", padding="same")(pool1)
    conv2 = Conv2D(128, 3, activation="relu", padding="same")(conv2)
    pool2 = MaxPooling2D(pool_size=(2, 2))(conv2)
    conv3 = Conv2D(256, 3, activation="relu", padding="same")(pool2)
    conv3 = Conv2D(256, 3, activation="relu", padding="same")(conv3)
    pool3 = MaxPooling2D(pool_size=(2, 2))(conv3)
    conv4 = Conv2D(512, 3, activation="relu", padding="same")(pool3)
    conv4 = Conv2D(512, 3, activation="relu", padding="same")(conv4)
    drop4 = Dropout(0.5)(conv4)
    pool4 = MaxPooling2D(pool_size=(2, 2))(drop4)
    conv5 = Conv2D(1024, 3, activation="relu", padding="same")(pool4)
    conv5 = Conv2D(1024, 3, activation="relu", padding="same")(conv5)
    drop5 = Dropout(0.5)(conv5)
    up6 = Conv2D(512, 2, activation="relu", padding="same")(UpSampling2D(size=(2, 2))(drop5))
    merge6 = concatenate([drop4, up6], axis=3)
    conv6 = Conv2D(512, 3, activation="relu", padding="same")(merge6)
    conv6 = Conv2D(512, 3, activation="relu", padding="same")(conv6)
    up7 = Conv2D(256, 2, activation="relu", padding="same")(UpSampling2D(size=(2, 2))(conv6))
    merge7 = concatenate([conv3, up7], axis=3)
    conv7 = Conv2D(256, 3, activation="relu", padding="same")(merge7)
    conv7 = Conv2D(256, 3, activation="relu", padding="same")(conv7)
    up8 = Conv2D(128, 2, activation="relu", padding="same")(UpSampling2D(size=(2, 2))(conv7))
    merge8 = concatenate([conv2, up8], axis=3)
    conv8 = Conv2D(128, 3, activation="relu", padding="same")(merge8)
    conv8 = Conv2D(128, 3, activation="relu", padding="same")(conv8)
    up9 = Conv2D(64, 2, activation="relu", padding="same")(UpSampling2D(size=(2, 2))(conv8))
    merge9 = concatenate([conv1, up9], axis=3)
    conv9 = Conv2D(64, 3, activation="relu", padding="same")(merge9)
    conv9 = Conv2D(64, 3, activation="relu", padding="same")(conv9)
    conv9 = Conv2D(2, 3, activation="relu", padding="same")(conv9)
    conv10 = Conv2D(1, 1, activation="sigmoid")(conv9)
    return Model(inputs, conv10)


@pytest.fixture(scope="module")
def unet_audit() -> auditor.Audit:
    with keras_adapter.deferred_variables():
        model = seed_unet()
        return auditor.audit(model)


def test_seed_unet_total_and_every_conv_ok(unet_audit: auditor.Audit) -> None:
    assert unet_audit.totals.reported == unet_audit.totals.analytic == 31_031_685
    assert unet_audit.model.framework_total == 31_031_685
    assert unet_audit.consistent
    convs = [c for c in unet_audit.checks if c.kind == "conv"]
    assert len(convs) == 24 and all(str(c.status) == "ok" for c in convs)


def test_seed_unet_upconvs_show_kernel_two(unet_audit: auditor.Audit) -> None:
    formulas = [c.formula for c in unet_audit.checks if c.kind == "conv" and "2*2*" in (c.formula or "")]
    assert formulas == [
        "(2*2*1024+1)*512 = 2,097,664",
        "(2*2*512+1)*256 = 524,544",
        "(2*2*256+1)*128 = 131,200",
        "(2*2*128+1)*64 = 32,832",
    ]


def test_seed_unet_merges_and_shapes(unet_audit: auditor.Audit) -> None:
    concats = [c for c in unet_audit.checks if c.kind == "concat"]
    assert [c.layer.output_shapes[0] for c in concats] == [
        ("batch", 32, 32, 1024), ("batch", 64, 64, 512), ("batch", 128, 128, 256), ("batch", 256, 256, 128),
    ]
    assert all(c.analytic_output_shape == c.layer.output_shapes[0] for c in unet_audit.checks)
    assert unet_audit.model.input_shapes == [("batch", 256, 256, 1)]
    assert all(c.layer.source_type.startswith("keras.layers.") for c in unet_audit.checks)


def lasagne_cnn() -> keras.Model:
    """Seed 000's MNIST CNN in Keras: 217,706 parameters."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            kl.Conv2D(32, 5),
            kl.MaxPooling2D(2),
            kl.Conv2D(32, 3),
            kl.MaxPooling2D(2),
            kl.Flatten(),
            kl.Dropout(0.5),
            kl.Dense(256),
            kl.Dense(10, activation="softmax"),
        ],
        name="lasagne_cnn",
    )


def test_sequential_flatten_then_dense_formula() -> None:
    model = keras.Sequential([keras.Input((8, 8, 3)), kl.Conv2D(4, 3), kl.Flatten(), kl.Dense(5)])
    ir = keras_adapter.from_model(model)
    dense = ir.layers[-1]
    assert dense.attrs["flattened_from"] == (6, 6, 4)
    check = auditor.audit_ir(ir).checks[-1]
    assert check.formula == "(6*6*4+1)*5 = 725"


def test_lasagne_seed_sequential() -> None:
    result = auditor.audit(lasagne_cnn())
    assert result.totals.reported == result.totals.analytic == 217_706
    assert [c.reported for c in result.checks if c.reported] == [832, 9_248, 205_056, 2_570]
    dense = next(c for c in result.checks if c.kind == "dense")
    assert dense.formula == "(5*5*32+1)*256 = 205,056"
    assert [c.kind for c in result.checks] == [
        "conv", "pool", "conv", "pool", "flatten", "dropout", "dense", "dense",
    ]


def test_batchnorm_moving_stats_are_non_trainable_params() -> None:
    model = keras.Sequential([keras.Input((5, 5, 3)), kl.Conv2D(8, 3, use_bias=False), kl.BatchNormalization()])
    result = auditor.audit(model)
    bn = result.checks[-1]
    assert bn.kind == "batch_norm" and str(bn.status) == "ok"
    assert (bn.reported, bn.layer.reported_trainable, bn.layer.reported_buffers) == (32, 16, 0)
    moving = [p for p in bn.layer.params if p.name.startswith("moving")]
    assert [p.name for p in moving] == ["moving_mean", "moving_variance"]
    assert all(not p.trainable and not p.buffer for p in moving)
    assert (result.totals.trainable, result.totals.non_trainable) == (216 + 16, 16)
    assert result.totals.reported == model.count_params()


def test_frozen_layers_are_non_trainable() -> None:
    model = keras.Sequential([keras.Input((4,)), kl.Dense(3), kl.Dense(2)])
    model.layers[0].trainable = False
    ir = keras_adapter.from_model(model)
    assert [p.trainable for p in ir.layers[0].params] == [False, False]
    assert [p.trainable for p in ir.layers[1].params] == [True, True]
    model.layers[0].trainable = True


def test_nested_models_become_path_prefixes() -> None:
    inner = keras.Sequential([keras.Input((6,)), kl.Dense(4, name="d1"), kl.Dense(2, name="d2")], name="inner")
    x = keras.Input((6,))
    y = kl.Dense(3, name="head")(inner(x))
    model = keras.Model(x, y, name="outer")
    result = auditor.audit(model)
    assert [c.path for c in result.checks] == ["inner.d1", "inner.d2", "head"]
    assert result.totals.reported == model.count_params() == 28 + 10 + 9
    assert result.consistent


def test_keras_ops_in_functional_graph_are_tensor_ops() -> None:
    x = keras.Input((4,))
    y = kl.Dense(3, name="fc")(keras.ops.add(x, 1.0))
    result = auditor.audit(keras.Model(x, y))
    assert [c.kind for c in result.checks] == ["tensor_op", "dense"]
    assert result.checks[0].layer.source_type.startswith("keras.ops.")
    assert str(result.checks[1].status) == "ok"


class _Block(keras.layers.Layer):
    """A custom layer holding two convs and a weight of its own."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.conv_a = kl.Conv2D(4, 3, padding="same", name="conv_a")
        self.conv_b = kl.Conv2D(4, 1, name="conv_b")

    def build(self, input_shape: tuple) -> None:
        self.conv_a.build(input_shape)
        self.conv_b.build(self.conv_a.compute_output_shape(input_shape))
        self.alpha = self.add_weight(shape=(4,), name="alpha")

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.conv_b(self.conv_a(x)) * self.alpha


class _Subclassed(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="subclassed")
        self.stem = kl.Conv2D(8, 3, name="stem")
        self.block = _Block(name="block")
        self.pool = kl.GlobalAveragePooling2D(name="pool")
        self.head = kl.Dense(10, name="head")

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.head(self.pool(self.block(self.stem(x))))


def test_subclassed_model_with_custom_block() -> None:
    model = _Subclassed()
    model(keras.ops.zeros((1, 12, 12, 3)))
    result = auditor.audit(model)
    paths = [c.path for c in result.checks]
    assert paths == ["stem", "block.conv_a", "block.conv_b", "block", "pool", "head"]
    by_path = {c.path: c for c in result.checks}
    assert str(by_path["block.conv_a"].status) == "ok"
    assert by_path["block.conv_a"].layer.input_shapes == [(1, 10, 10, 8)]
    assert by_path["block"].kind == "unknown" and by_path["block"].reported == 4
    assert str(by_path["block"].status) == "unverified"
    assert str(by_path["head"].status) == "ok"
    assert result.totals.reported == model.count_params()
    assert any("subclassed" in n for n in result.model.notes)


def test_unbuilt_model_is_input_error() -> None:
    with pytest.raises(InputError, match="not built"):
        keras_adapter.from_model(keras.Sequential([kl.Dense(3)]))


def test_non_keras_object_is_input_error() -> None:
    with pytest.raises(InputError, match="not a Keras model"):
        keras_adapter.from_model(object())


def test_bidirectional_and_mha_and_embedding() -> None:
    tokens = keras.Input((7,), dtype="int32")
    x = kl.Embedding(50, 6, name="emb")(tokens)
    x = kl.MultiHeadAttention(2, 3, value_dim=4, name="mha")(x, x)
    x = kl.Bidirectional(kl.GRU(5, return_sequences=True), name="bigru")(x)
    x = kl.Bidirectional(kl.LSTM(3), name="bilstm")(x)
    model = keras.Model(tokens, kl.Dense(2, name="out")(x))
    result = auditor.audit(model)
    assert result.consistent, [c.findings for c in result.checks]
    by_path = {c.path: c for c in result.checks}
    assert by_path["bigru"].layer.attrs["bias_vectors"] == 2 and by_path["bigru"].layer.attrs["bidirectional"]
    assert by_path["bilstm"].layer.attrs["input_size"] == 10
    assert all(str(by_path[p].status) == "ok" for p in ("emb", "mha", "bigru", "bilstm", "out"))
    assert result.totals.reported == model.count_params()


def test_padding_cropping_upsampling_transposed_shapes() -> None:
    x = keras.Input((10, 10, 3))
    y = kl.ZeroPadding2D(((1, 2), (3, 0)))(x)
    y = kl.Cropping2D(((0, 1), (2, 1)))(y)
    y = kl.UpSampling2D((2, 3))(y)
    y = kl.Conv2DTranspose(4, 2, strides=3)(y)
    y = kl.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1)(y)
    y = kl.Conv1D(2, 3, padding="causal")(kl.Reshape((-1, 4))(y))
    y = kl.Permute((2, 1))(y)
    result = auditor.audit(keras.Model(x, y))
    assert result.consistent, [f.message for c in result.checks for f in c.findings]
    assert all(c.analytic_output_shape is not None for c in result.checks)


def test_register_layer_follows_subclasses_and_refuses_duplicates() -> None:
    class MyDense(kl.Dense):
        pass

    model = keras.Sequential([keras.Input((3,)), MyDense(2)])
    assert keras_adapter.from_model(model).layers[0].kind == "dense"

    class Scale(kl.Layer):
        def build(self, shape):  # type: ignore[no-untyped-def]
            self.gamma = self.add_weight(shape=(shape[-1],), name="gamma")

        def call(self, x):  # type: ignore[no-untyped-def]
            return x * self.gamma

    keras_adapter.register_layer(Scale, "scale", lambda layer: {"shape": (int(layer.gamma.shape[0]),)})
    try:
        with pytest.raises(DuplicateLayerError):
            keras_adapter.register_layer(Scale, "scale", lambda layer: {})
        result = auditor.audit(keras.Sequential([keras.Input((5,)), Scale()]))
        assert result.checks[0].kind == "scale" and str(result.checks[0].status) == "ok"
    finally:
        keras_adapter.unregister_layer(Scale)
    assert keras_adapter.TYPES.first(Scale.__mro__) is None


def test_an_unknown_option_is_refused_for_keras_models_too() -> None:
    with pytest.raises(auditor.OptionError, match="did you mean input_shape"):
        keras_adapter.from_model(lasagne_cnn(), input_shap=(1, 28, 28, 1))


def test_audit_api_dispatches_keras_objects() -> None:
    ir = auditor.to_ir(lasagne_cnn(), name="cnn")
    assert ir.framework == "keras" and ir.name == "cnn" and ir.framework_total == 217_706


def test_macs_are_per_sample_until_a_batch_size_is_given(unet_audit: auditor.Audit) -> None:
    assert unet_audit.totals.macs_complete and unet_audit.totals.macs_per_sample
    assert unet_audit.checks[0].macs == 256 * 256 * 64 * 9
    with keras_adapter.deferred_variables():
        result = auditor.audit(seed_unet(), input_shape=(2, 256, 256, 1))
    first = result.checks[0]
    assert first.layer.input_shapes == [(2, 256, 256, 1)]
    assert first.macs == 2 * 256 * 256 * 64 * 9 and result.totals.macs_complete
    assert not result.totals.macs_per_sample
    assert result.totals.reported == 31_031_685


def test_input_shape_that_does_not_fit_is_input_error() -> None:
    with pytest.raises(InputError, match="rebuild the model"):
        keras_adapter.from_model(lasagne_cnn(), input_shape=(1, 32, 32, 1))


class LazyBlock(kl.Layer):
    """Makes its projection in __init__ but builds it only when first called (its output shape is declared)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.proj = kl.Dense(8, name="proj")

    def build(self, shape):  # type: ignore[no-untyped-def]
        self.built = True

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.proj(x)

    def compute_output_shape(self, shape):  # type: ignore[no-untyped-def]
        return (*shape[:-1], 8)


def test_unbuilt_sublayer_is_built_for_the_given_input_shape() -> None:
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, kl.Dense(3)(LazyBlock(name="lazy")(inputs)))
    unbuilt = auditor.audit(model)
    assert unbuilt.totals.reported == 27 and not unbuilt.totals.macs_complete
    assert any("lazy.proj is not built" in note for note in unbuilt.model.notes)
    result = auditor.audit(model, input_shape=(1, 5, 4))
    assert result.totals.reported == result.totals.analytic == model.count_params() == 27 + 40
    assert result.totals.unverified_layers == 0 and result.totals.macs == 5 * 4 * 8 + 5 * 8 * 3
    assert any("lazy.proj was not built: nn-auditor built it" in note for note in result.model.notes)


def test_factory_spec_goes_through_the_keras_adapter(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nn_auditor_keras_factory.py").write_text(
        "import keras\n"
        "def build():\n"
        "    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = auditor.audit("nn_auditor_keras_factory:build")
    assert result.model.framework == "keras" and result.model.source == "nn_auditor_keras_factory:build"
    assert result.totals.reported == 15 and result.consistent


def test_shared_layer_is_listed_once_with_a_note() -> None:
    shared = kl.Dense(3, name="shared")
    left, right = keras.Input((5,)), keras.Input((5,))
    model = keras.Model([left, right], kl.Add(name="add")([shared(left), shared(right)]))
    result = auditor.audit(model)
    assert [c.path for c in result.checks] == ["shared", "add"]
    assert result.totals.reported == model.count_params() == 18
    assert any("shared is called 2 times" in n for n in result.model.notes)
