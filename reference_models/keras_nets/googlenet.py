"""GoogLeNet (Inception v1) in Keras, the same two variants as `torch_nets.googlenet`.

'same' pooling reproduces PyTorch's ceil_mode pooling sizes at 224x224 (112-56-28-14-7).
"""

from __future__ import annotations

import keras
from keras import layers

from reference_models.architectures import INCEPTION


def conv_block(x: keras.KerasTensor, filters: int, kernel: int, stride: int = 1, batch_norm: bool = False) -> keras.KerasTensor:
    """Conv + ReLU ('same' padding); with batch_norm the conv loses its bias and BN follows it."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization(epsilon=0.001)(x)
    return layers.ReLU()(x)


def inception(x: keras.KerasTensor, cfg: tuple[int, ...], wide_kernel: int, bn: bool) -> keras.KerasTensor:
    """Four parallel branches concatenated on channels: 1x1 | 1x1->3x3 | 1x1->5x5 | maxpool->1x1."""
    _, c1, r3, c3, r5, c5, proj = cfg
    b1 = conv_block(x, c1, 1, batch_norm=bn)
    b2 = conv_block(conv_block(x, r3, 1, batch_norm=bn), c3, 3, batch_norm=bn)
    b3 = conv_block(conv_block(x, r5, 1, batch_norm=bn), c5, wide_kernel, batch_norm=bn)
    b4 = conv_block(layers.MaxPooling2D(3, strides=1, padding="same")(x), proj, 1, batch_norm=bn)
    return layers.Concatenate()([b1, b2, b3, b4])


def aux_head(x: keras.KerasTensor, bn: bool, name: str) -> keras.KerasTensor:
    """Training-time classifier: avgpool 5x5/3 to 4x4, 1x1 conv 128, fc 1024, dropout 0.7, fc 1000."""
    x = layers.AveragePooling2D(5, strides=3)(x)
    x = layers.Flatten()(conv_block(x, 128, 1, batch_norm=bn))
    x = layers.Dropout(0.7)(layers.Dense(1024, activation="relu")(x))
    return layers.Dense(1000, name=name)(x)


def build(wide_kernel: int, batch_norm: bool, aux_logits: bool, name: str) -> keras.Model:
    """Stem, inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global average pool, dropout 0.4, fc 1000."""
    bn = batch_norm
    inputs = keras.Input((224, 224, 3))
    x = conv_block(inputs, 64, 7, stride=2, batch_norm=bn)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = conv_block(conv_block(x, 64, 1, batch_norm=bn), 192, 3, batch_norm=bn)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = inception(inception(x, INCEPTION["3a"], wide_kernel, bn), INCEPTION["3b"], wide_kernel, bn)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = inception(x, INCEPTION["4a"], wide_kernel, bn)
    outputs = [aux_head(x, bn, "aux1")] if aux_logits else []
    for block in ("4b", "4c", "4d"):
        x = inception(x, INCEPTION[block], wide_kernel, bn)
    if aux_logits:
        outputs.append(aux_head(x, bn, "aux2"))
    x = inception(x, INCEPTION["4e"], wide_kernel, bn)
    x = layers.MaxPooling2D(2, strides=2, padding="same")(x)
    x = inception(inception(x, INCEPTION["5a"], wide_kernel, bn), INCEPTION["5b"], wide_kernel, bn)
    x = layers.Dropout(0.4)(layers.GlobalAveragePooling2D()(x))
    logits = layers.Dense(1000, name="logits")(x)
    return keras.Model(inputs, [logits, *outputs] if outputs else logits, name=name)


def googlenet(aux_logits: bool = False) -> keras.Model:
    """The paper's / Caffe's GoogLeNet: conv biases, no BatchNorm, 5x5 branch convs."""
    return build(5, False, aux_logits, "googlenet")


def googlenet_torchvision(aux_logits: bool = False) -> keras.Model:
    """torchvision's GoogLeNet in Keras: BatchNorm, bias-free convs, 3x3 convs where the paper has 5x5."""
    return build(3, True, aux_logits, "googlenet_torchvision")
