"""Keras models the file tests save and read back (imports Keras: only for tests that have it)."""

from __future__ import annotations

import keras
from keras import layers as kl


def mixed_model() -> keras.Model:
    """Branches, a nested Sequential, BatchNorm, a transposed conv, recurrent and attention layers."""
    image = keras.Input((16, 16, 3), name="image")
    x = kl.Conv2D(8, 3, padding="same", use_bias=False)(image)
    x = kl.BatchNormalization()(x)
    skip = kl.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = kl.SeparableConv2D(16, 3, padding="same")(x)
    x = kl.Add()([x, skip])
    x = kl.Conv2DTranspose(4, 2, strides=2)(x)
    x = keras.Sequential([kl.MaxPooling2D(4), kl.Conv2D(6, 1)], name="down")(x)
    seq = kl.Reshape((64, 6))(x)
    seq = kl.MultiHeadAttention(2, 4)(seq, seq)
    seq = kl.LayerNormalization()(seq)
    seq = kl.Bidirectional(kl.LSTM(5))(seq)
    out = kl.Dense(3)(kl.Concatenate()([seq, kl.GlobalAveragePooling2D()(x)]))
    return keras.Model(image, out, name="mixed")
