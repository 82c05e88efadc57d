"""ResNet-50 (He et al. 2016, table 1) in the two conventions the frameworks publish.

- `resnet50`: torchvision's (v1.5: the stride sits in the 3x3 conv), convs without bias, BatchNorm.
- `resnet50_keras`: the same network with biases in every conv, as keras.applications.ResNet50 has
  them (Keras puts the stride in the first 1x1 conv, v1; the parameter count does not depend on it).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_models.architectures import RESNET50_STAGES


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = False) -> nn.Sequential:
    """Conv (padding k//2) followed by BatchNorm; the shortcut runs first, as in the Keras code."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=bias), nn.BatchNorm2d(cout)
    )


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4, plus a projection shortcut when the shape changes."""

    def __init__(self, cin: int, width: int, stride: int, bias: bool) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, width, 1, bias=bias)
        self.conv2 = conv_bn(width, width, 3, stride=stride, bias=bias)
        self.conv3 = conv_bn(width, width * 4, 1, bias=bias)
        self.shortcut = (
            conv_bn(cin, width * 4, 1, stride=stride, bias=bias) if stride != 1 or cin != width * 4 else None
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out))
        return self.relu(self.conv3(out) + identity)


class ResNet50(nn.Module):
    """Stem 7x7/2 conv + 3x3/2 max pool, four bottleneck stages (3, 4, 6, 3), average pool, fc 1000."""

    def __init__(self, bias: bool = False) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 7, stride=2, bias=bias), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1))
        blocks: list[nn.Module] = []
        cin = 64
        for width, count, stride in RESNET50_STAGES:
            for i in range(count):
                blocks.append(Bottleneck(cin, width, stride if i == 0 else 1, bias))
                cin = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def resnet50() -> ResNet50:
    """torchvision's ResNet-50: bias-free convs."""
    return ResNet50(bias=False)


def resnet50_keras() -> ResNet50:
    """keras.applications' ResNet-50 in PyTorch: every conv has a bias."""
    return ResNet50(bias=True)
