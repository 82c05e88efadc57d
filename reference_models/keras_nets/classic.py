"""The plain feed-forward CNNs of the seeds in Keras (channels last): Lasagne MNIST, LeNet-5, AlexNet, VGG-16."""

from __future__ import annotations

import keras
from keras import layers

from reference_models.architectures import VGG16_CONFIG


def lasagne_mnist() -> keras.Model:
    """Seed 000: 28x28x1 -> conv 5x5x32 -> pool 2 -> conv 3x3x32 -> pool 2 -> dense 256 -> 10."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 5, activation="relu", name="conv2d1"),
            layers.MaxPooling2D(2, name="maxpool1"),
            layers.Conv2D(32, 3, activation="relu", name="conv2d2"),
            layers.MaxPooling2D(2, name="maxpool2"),
            layers.Flatten(),
            layers.Dense(256, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name="lasagne_mnist",
    )


def lenet5() -> keras.Model:
    """Seed 004's modern LeNet-5: 32x32x1, two 5x5 convs with max pooling, fc 120 / 84 / 10."""
    return keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            layers.Conv2D(6, 5, activation="relu", name="conv1"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu", name="conv2"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu", name="fc1"),
            layers.Dense(84, activation="relu", name="fc2"),
            layers.Dense(10, name="fc3"),
        ],
        name="lenet5",
    )


def alexnet(groups: int = 1) -> keras.Model:
    """AlexNet on 227x227x3 (seed 004); groups=2 splits conv2/4/5 over the two GPUs as in the paper."""
    return keras.Sequential(
        [
            keras.Input((227, 227, 3)),
            layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1"),
            layers.MaxPooling2D(3, strides=2),
            layers.Conv2D(256, 5, padding="same", groups=groups, activation="relu", name="conv2"),
            layers.MaxPooling2D(3, strides=2),
            layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3"),
            layers.Conv2D(384, 3, padding="same", groups=groups, activation="relu", name="conv4"),
            layers.Conv2D(256, 3, padding="same", groups=groups, activation="relu", name="conv5"),
            layers.MaxPooling2D(3, strides=2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(4096, activation="relu", name="fc6"),
            layers.Dropout(0.5),
            layers.Dense(4096, activation="relu", name="fc7"),
            layers.Dense(1000, name="fc8"),
        ],
        name="alexnet" if groups == 1 else "alexnet_2gpu",
    )


def alexnet_2gpu() -> keras.Model:
    """AlexNet with the two-GPU split: groups=2 in conv2, conv4 and conv5."""
    return alexnet(groups=2)




def vgg16() -> keras.Model:
    """VGG-16 (configuration D) on 224x224x3: 13 'same' conv3 layers, then fc 4096/4096/1000."""
    model = keras.Sequential([keras.Input((224, 224, 3))], name="vgg16")
    for item in VGG16_CONFIG:
        if item == "M":
            model.add(layers.MaxPooling2D(2))
        else:
            model.add(layers.Conv2D(int(item), 3, padding="same", activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(4096, activation="relu", name="fc1"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(4096, activation="relu", name="fc2"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(1000, activation="softmax", name="fc3"))
    return model
