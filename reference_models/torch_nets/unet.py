"""Seed 001's U-Net ported to PyTorch layer for layer ('same' padding, 2x2 up-convs after upsampling)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    """Keras `Conv2D(cout, kernel, activation='relu', padding='same')`."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding="same"), nn.ReLU())


def _double(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout), _conv(cout, cout))


def _up(cin: int, cout: int) -> nn.Sequential:
    """UpSampling2D(2) then the seed's 2x2 'same' conv (the layer the hand table took for 3x3)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(cin, cout, kernel=2))


class UNet(nn.Module):
    """Encoder 64..1024 with dropout after the 4th and 5th stages; decoder with skip concatenations."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.down1, self.down2 = _double(in_channels, 64), _double(64, 128)
        self.down3, self.down4 = _double(128, 256), _double(256, 512)
        self.drop4 = nn.Dropout(0.5)
        self.bottom, self.drop5 = _double(512, 1024), nn.Dropout(0.5)
        self.up6, self.conv6 = _up(1024, 512), _double(1024, 512)
        self.up7, self.conv7 = _up(512, 256), _double(512, 256)
        self.up8, self.conv8 = _up(256, 128), _double(256, 128)
        self.up9, self.conv9 = _up(128, 64), _double(128, 64)
        self.conv9_out = _conv(64, 2)
        self.conv10 = nn.Sequential(nn.Conv2d(2, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.down1(x)
        c2 = self.down2(self.pool(c1))
        c3 = self.down3(self.pool(c2))
        d4 = self.drop4(self.down4(self.pool(c3)))
        d5 = self.drop5(self.bottom(self.pool(d4)))
        c6 = self.conv6(torch.cat([d4, self.up6(d5)], dim=1))
        c7 = self.conv7(torch.cat([c3, self.up7(c6)], dim=1))
        c8 = self.conv8(torch.cat([c2, self.up8(c7)], dim=1))
        c9 = self.conv9(torch.cat([c1, self.up9(c8)], dim=1))
        return self.conv10(self.conv9_out(c9))


def unet(in_channels: int = 1) -> UNet:
    """The seed's U-Net for 1x256x256 inputs (any size divisible by 16 works)."""
    return UNet(in_channels)
