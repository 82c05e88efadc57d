"""GoogLeNet (Inception v1) in two published variants, from one Inception block.

- `googlenet`: the paper (Szegedy et al. 2015, table 1) as Caffe's bvlc_googlenet deploy net builds it:
  convs with biases, no BatchNorm, 5x5 convs in the third branch.  LRN (no parameters) left out.
- `googlenet_torchvision`: torchvision's version: bias-free convs + BatchNorm (eps 0.001), and 3x3
  convs in the "5x5" branch (a bug torchvision keeps for compatibility with its weights).
Both take `aux_logits=True` to add the two training-time auxiliary classifiers.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_models.architectures import INCEPTION


def conv_block(cin: int, cout: int, kernel: int, stride: int = 1, batch_norm: bool = False) -> nn.Sequential:
    """Conv + ReLU ('same' padding); with batch_norm the conv loses its bias and BN follows it."""
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=not batch_norm)
    if batch_norm:
        return nn.Sequential(conv, nn.BatchNorm2d(cout, eps=0.001), nn.ReLU())
    return nn.Sequential(conv, nn.ReLU())


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1 | 1x1->3x3 | 1x1->5x5 | maxpool->1x1."""

    def __init__(self, cfg: tuple[int, ...], wide_kernel: int = 5, batch_norm: bool = False) -> None:
        super().__init__()
        cin, c1, r3, c3, r5, c5, proj = cfg
        self.branch1 = conv_block(cin, c1, 1, batch_norm=batch_norm)
        self.branch2 = nn.Sequential(
            conv_block(cin, r3, 1, batch_norm=batch_norm), conv_block(r3, c3, 3, batch_norm=batch_norm)
        )
        self.branch3 = nn.Sequential(
            conv_block(cin, r5, 1, batch_norm=batch_norm), conv_block(r5, c5, wide_kernel, batch_norm=batch_norm)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), conv_block(cin, proj, 1, batch_norm=batch_norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class AuxHead(nn.Module):
    """Training-time classifier: avgpool to 4x4, 1x1 conv 128, fc 1024, dropout 0.7, fc 1000."""

    def __init__(self, cin: int, batch_norm: bool = False, num_classes: int = 1000) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv_block(cin, 128, 1, batch_norm=batch_norm)
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(0.7))
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(self.conv(self.pool(x))))


class GoogLeNet(nn.Module):
    """Stem, inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global average pool, dropout 0.4, fc 1000."""

    def __init__(self, wide_kernel: int = 5, batch_norm: bool = False, aux_logits: bool = False) -> None:
        super().__init__()
        bn = batch_norm
        self.stem = nn.Sequential(
            conv_block(3, 64, 7, stride=2, batch_norm=bn),  # 112x112
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 56x56
            conv_block(64, 64, 1, batch_norm=bn),
            conv_block(64, 192, 3, batch_norm=bn),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 28x28
        )
        blocks = {name: Inception(cfg, wide_kernel, bn) for name, cfg in INCEPTION.items()}
        self.inception3 = nn.Sequential(blocks["3a"], blocks["3b"], nn.MaxPool2d(3, stride=2, ceil_mode=True))
        self.inception4a = blocks["4a"]
        self.aux1 = AuxHead(512, bn) if aux_logits else None
        self.inception4bcd = nn.Sequential(blocks["4b"], blocks["4c"], blocks["4d"])
        self.aux2 = AuxHead(528, bn) if aux_logits else None
        self.inception4e = nn.Sequential(blocks["4e"], nn.MaxPool2d(2, stride=2, ceil_mode=True))  # 7x7
        self.inception5 = nn.Sequential(blocks["5a"], blocks["5b"])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        x = self.inception4a(self.inception3(self.stem(x)))
        aux1 = self.aux1(x) if self.aux1 is not None else None
        x = self.inception4bcd(x)
        aux2 = self.aux2(x) if self.aux2 is not None else None
        logits = self.head(self.inception5(self.inception4e(x)))
        if aux1 is not None and aux2 is not None:
            return logits, aux2, aux1
        return logits


def googlenet(aux_logits: bool = False) -> GoogLeNet:
    """The paper's / Caffe's GoogLeNet: conv biases, no BatchNorm, 5x5 branch convs."""
    return GoogLeNet(wide_kernel=5, batch_norm=False, aux_logits=aux_logits)


def googlenet_torchvision(aux_logits: bool = False) -> GoogLeNet:
    """torchvision's GoogLeNet: BatchNorm, bias-free convs, 3x3 convs where the paper has 5x5."""
    return GoogLeNet(wide_kernel=3, batch_norm=True, aux_logits=aux_logits)
