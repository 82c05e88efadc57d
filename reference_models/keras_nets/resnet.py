"""ResNet-50 in Keras, the same two variants as `torch_nets.resnet`.

`resnet50_keras` is keras.applications.ResNet50's network (convs with biases, BN epsilon 1.001e-5,
stride in the block's first 1x1 conv); `resnet50` is torchvision's bias-free variant.
"""

from __future__ import annotations

import keras
from keras import layers

from reference_models.architectures import RESNET50_STAGES


def conv_bn(x: keras.KerasTensor, filters: int, kernel: int, stride: int = 1, bias: bool = False) -> keras.KerasTensor:
    """'same' conv followed by BatchNorm (4 values per channel in Keras: 2 trainable, 2 moving stats)."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=bias)(x)
    return layers.BatchNormalization(epsilon=1.001e-5)(x)


def bottleneck(x: keras.KerasTensor, width: int, stride: int, bias: bool, project: bool) -> keras.KerasTensor:
    """Shortcut (projection when the shape changes), then 1x1 reduce, 3x3, 1x1 expand x4, add, ReLU."""
    shortcut = conv_bn(x, width * 4, 1, stride, bias) if project else x
    y = layers.ReLU()(conv_bn(x, width, 1, stride, bias))
    y = layers.ReLU()(conv_bn(y, width, 3, 1, bias))
    y = conv_bn(y, width * 4, 1, 1, bias)
    return layers.ReLU()(layers.Add()([shortcut, y]))


def build(bias: bool, name: str) -> keras.Model:
    """Stem 7x7/2 conv + 3x3/2 max pool, four bottleneck stages (3, 4, 6, 3), average pool, fc 1000."""
    inputs = keras.Input((224, 224, 3))
    x = layers.ReLU()(conv_bn(inputs, 64, 7, 2, bias))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for width, count, stride in RESNET50_STAGES:
        for i in range(count):
            x = bottleneck(x, width, stride if i == 0 else 1, bias, project=i == 0)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1000, activation="softmax", name="predictions")(x), name=name)


def resnet50() -> keras.Model:
    """torchvision's ResNet-50 in Keras: bias-free convs."""
    return build(bias=False, name="resnet50")


def resnet50_keras() -> keras.Model:
    """keras.applications.ResNet50's network: every conv has a bias."""
    return build(bias=True, name="resnet50_keras")
