"""Seed 001's U-Net, exactly as the question's Keras code writes it (Keras 3 spelling of `Model`)."""

from __future__ import annotations

import keras
from keras.layers import Conv2D, Dropout, Input, MaxPooling2D, UpSampling2D, concatenate


def _conv(filters: int, kernel: int, x: keras.KerasTensor) -> keras.KerasTensor:
    return Conv2D(filters, kernel, activation="relu", padding="same")(x)


def unet(input_size: tuple[int, int, int] = (256, 256, 1)) -> keras.Model:
    """The seed's U-Net: the four up-convs (up6..up9) are 2x2 convs after a 2x UpSampling2D."""
    inputs = Input(input_size)
    conv1 = _conv(64, 3, _conv(64, 3, inputs))
    pool1 = MaxPooling2D(pool_size=(2, 2))(conv1)
    conv2 = _conv(128, 3, _conv(128, 3, pool1))
    pool2 = MaxPooling2D(pool_size=(2, 2))(conv2)
    conv3 = _conv(256, 3, _conv(256, 3, pool2))
    pool3 = MaxPooling2D(pool_size=(2, 2))(conv3)
    conv4 = _conv(512, 3, _conv(512, 3, pool3))
    drop4 = Dropout(0.5)(conv4)
    pool4 = MaxPooling2D(pool_size=(2, 2))(drop4)
    conv5 = _conv(1024, 3, _conv(1024, 3, pool4))
    drop5 = Dropout(0.5)(conv5)

    up6 = _conv(512, 2, UpSampling2D(size=(2, 2))(drop5))
    merge6 = concatenate([drop4, up6], axis=3)
    conv6 = _conv(512, 3, _conv(512, 3, merge6))
    up7 = _conv(256, 2, UpSampling2D(size=(2, 2))(conv6))
    merge7 = concatenate([conv3, up7], axis=3)
    conv7 = _conv(256, 3, _conv(256, 3, merge7))
    up8 = _conv(128, 2, UpSampling2D(size=(2, 2))(conv7))
    merge8 = concatenate([conv2, up8], axis=3)
    conv8 = _conv(128, 3, _conv(128, 3, merge8))
    up9 = _conv(64, 2, UpSampling2D(size=(2, 2))(conv8))
    merge9 = concatenate([conv1, up9], axis=3)
    conv9 = _conv(64, 3, _conv(64, 3, merge9))
    conv9 = _conv(2, 3, conv9)
    conv10 = Conv2D(1, 1, activation="sigmoid")(conv9)
    return keras.Model(inputs=inputs, outputs=conv10, name="unet")
