"""LeNet-5 exactly as LeCun et al. (1998) describe it, as custom Keras layers (channels last).

The same layers as `torch_nets.lenet1998`; importing this module maps each class to its kind through
the public adapter API (`adapters.keras.register_layer`).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from reference_models import lecun_rules  # noqa: F401  (registers the lecun_* rules)
from reference_models.architectures import LENET_C3_TABLE

PACKAGE = "nn_auditor_lenet1998"


def squash(a: Any) -> Any:
    """LeCun's sigmoid: 1.7159 * tanh(2a/3) (appendix A of the paper)."""
    return 1.7159 * ops.tanh(a * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class LeCunConv(layers.Layer):
    """C-layer: output map j convolves the input maps `table[j]` (all of them by default), plus a bias.

    The kernels of all maps are packed into one vector, `kernel`, of sum(len(table[j])) * k * k values.
    """

    def __init__(self, maps: int, kernel: int = 5, table: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maps, self.kernel_size = maps, kernel
        self.table = tuple(tuple(int(i) for i in row) for row in table) if table else None

    def build(self, input_shape: tuple[Any, ...]) -> None:
        self.in_maps = int(input_shape[-1])
        if self.table is None:
            self.table = tuple(tuple(range(self.in_maps)) for _ in range(self.maps))
        k, links = self.kernel_size, sum(len(row) for row in self.table)
        bound = 2.4 / (self.in_maps * k * k)
        init = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(name="kernel", shape=(links * k * k,), initializer=init)
        self.bias = self.add_weight(name="bias", shape=(self.maps,), initializer="zeros")

    def call(self, x: Any) -> Any:
        k, table = self.kernel_size, self.table or ()
        if all(len(row) == self.in_maps for row in table):
            return squash(ops.conv(x, ops.reshape(self.kernel, (k, k, self.in_maps, self.maps))) + self.bias)
        maps, start = [], 0
        for j, row in enumerate(table):
            size = len(row) * k * k
            kernel = ops.reshape(self.kernel[start : start + size], (k, k, len(row), 1))
            maps.append(ops.conv(ops.take(x, list(row), axis=-1), kernel) + self.bias[j])
            start += size
        return squash(ops.concatenate(maps, axis=-1))

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        n, h, w, _ = input_shape
        k = self.kernel_size
        return (n, None if h is None else h - k + 1, None if w is None else w - k + 1, self.maps)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "maps": self.maps, "kernel": self.kernel_size, "table": self.table}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LeCunSubsampling(layers.Layer):
    """S-layer: each unit sums a 2x2 window, times the map's coefficient, plus the map's bias."""

    def __init__(self, window: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window = window

    def build(self, input_shape: tuple[Any, ...]) -> None:
        self.maps = int(input_shape[-1])
        self.coefficient = self.add_weight(name="coefficient", shape=(self.maps,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(self.maps,), initializer="zeros")

    def call(self, x: Any) -> Any:
        w = self.window
        summed = ops.average_pool(x, w, strides=w) * (w * w)
        return squash(summed * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        n, h, w, c = input_shape
        return (n, None if h is None else h // self.window, None if w is None else w // self.window, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LeCunFull(layers.Layer):
    """F6: a fully connected layer of squashed units."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: tuple[Any, ...]) -> None:
        self.in_features = int(input_shape[-1])
        bound = 2.4 / self.in_features
        init = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(name="kernel", shape=(self.in_features, self.units), initializer=init)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, x: Any) -> Any:
        return squash(ops.matmul(x, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RBFOutput(layers.Layer):
    """Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2; the +-1 centres are a non-trainable weight."""

    def __init__(self, classes: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = classes

    def build(self, input_shape: tuple[Any, ...]) -> None:
        self.in_features = int(input_shape[-1])
        self.centres = self.add_weight(
            name="centres", shape=(self.classes, self.in_features), initializer=_random_signs, trainable=False
        )

    def call(self, x: Any) -> Any:
        return ops.sum(ops.square(ops.expand_dims(x, 1) - self.centres), axis=-1)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.classes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes}


def _random_signs(shape: tuple[int, ...], dtype: Any = None) -> Any:
    """-1/+1 at random (the paper drew stylised 7x12 bitmaps of the characters)."""
    return ops.sign(keras.random.uniform(shape, -1.0, 1.0, dtype=dtype))


def lenet5_1998() -> keras.Model:
    """Input 32x32x1 -> C1 28x28@6 -> S2 14x14@6 -> C3 10x10@16 -> S4 5x5@16 -> C5 120 -> F6 84 -> RBF 10."""
    return keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            LeCunConv(6, 5, name="C1"),
            LeCunSubsampling(2, name="S2"),
            LeCunConv(16, 5, table=LENET_C3_TABLE, name="C3"),
            LeCunSubsampling(2, name="S4"),
            LeCunConv(120, 5, name="C5"),
            layers.Flatten(),
            LeCunFull(84, name="F6"),
            RBFOutput(10, name="output"),
        ],
        name="lenet5_1998",
    )


def conv_attrs(layer: LeCunConv) -> dict[str, Any]:
    return {
        "in_channels": layer.in_maps, "out_channels": layer.maps,
        "kernel_size": (layer.kernel_size, layer.kernel_size), "table": layer.table, "layout": "channels_last",
    }


def subsampling_attrs(layer: LeCunSubsampling) -> dict[str, Any]:
    return {"channels": layer.maps, "window": (layer.window, layer.window), "layout": "channels_last"}


def full_attrs(layer: LeCunFull) -> dict[str, Any]:
    return {"in_features": layer.in_features, "out_features": layer.units}


def rbf_attrs(layer: RBFOutput) -> dict[str, Any]:
    return {"in_features": layer.in_features, "out_features": layer.classes}


LAYER_KINDS = (
    (LeCunConv, "lecun_conv", conv_attrs),
    (LeCunSubsampling, "lecun_subsampling", subsampling_attrs),
    (LeCunFull, "lecun_full", full_attrs),
    (RBFOutput, "lecun_rbf", rbf_attrs),
)


def register_layers() -> bool:
    """Tell the Keras adapter which kind each class is; False while that adapter is not installed."""
    try:
        from adapters.keras import register_layer
    except ImportError:
        return False
    for cls, kind, attrs_fn in LAYER_KINDS:
        register_layer(cls, kind, attrs_fn)
    return True


register_layers()
