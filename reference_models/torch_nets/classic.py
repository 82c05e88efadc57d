"""The plain feed-forward CNNs of the seeds in PyTorch: Lasagne MNIST, LeNet-5, AlexNet, VGG-16.

Written layer by layer as the seed tables list them, so a person can hold one next to the other.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from reference_models.architectures import VGG16_CONFIG


def lasagne_mnist() -> nn.Sequential:
    """Seed 000: 1x28x28 -> conv 5x5x32 -> pool 2 -> conv 3x3x32 -> pool 2 -> dense 256 -> 10 (the seed's names)."""
    return nn.Sequential(
        OrderedDict(
            conv2d1=nn.Conv2d(1, 32, kernel_size=5), relu1=nn.ReLU(),  # 32x24x24
            maxpool1=nn.MaxPool2d(2),  # 32x12x12
            conv2d2=nn.Conv2d(32, 32, kernel_size=3), relu2=nn.ReLU(),  # 32x10x10
            maxpool2=nn.MaxPool2d(2),  # 32x5x5
            flatten=nn.Flatten(),
            dense=nn.Linear(32 * 5 * 5, 256), relu3=nn.ReLU(),
            output=nn.Linear(256, 10), softmax=nn.Softmax(dim=1),
        )
    )


def lenet5() -> nn.Sequential:
    """Seed 004's modern LeNet-5: 1x32x32, two 5x5 convs with max pooling, fc 120 / 84 / 10."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(),  # conv1: 6x28x28
        nn.MaxPool2d(2),  # 6x14x14
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),  # conv2: 16x10x10
        nn.MaxPool2d(2),  # 16x5x5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),  # fc1
        nn.Linear(120, 84), nn.ReLU(),  # fc2
        nn.Linear(84, 10),  # fc3
    )


def alexnet(groups: int = 1) -> nn.Sequential:
    """AlexNet on 3x227x227 (seed 004); groups=2 splits conv2/4/5 over the two GPUs as in the paper."""
    return nn.Sequential(
        nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(),  # conv1: 96x55x55
        nn.MaxPool2d(3, stride=2),  # 96x27x27
        nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups), nn.ReLU(),  # conv2: 256x27x27
        nn.MaxPool2d(3, stride=2),  # 256x13x13
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),  # conv3 (sees both towers)
        nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups), nn.ReLU(),  # conv4
        nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups), nn.ReLU(),  # conv5
        nn.MaxPool2d(3, stride=2),  # 256x6x6
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),  # fc6
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),  # fc7
        nn.Linear(4096, 1000),  # fc8
    )


def alexnet_2gpu() -> nn.Sequential:
    """AlexNet with the two-GPU split: groups=2 in conv2, conv4 and conv5."""
    return alexnet(groups=2)




def vgg16() -> nn.Sequential:
    """VGG-16 (configuration D) on 3x224x224: 13 conv3 layers with padding 1, then fc 4096/4096/1000."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU()]
            channels = int(item)
    layers += [
        nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),  # fc1
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),  # fc2
        nn.Linear(4096, 1000),  # fc3
    ]
    return nn.Sequential(*layers)
