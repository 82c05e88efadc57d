"""Framework-free architecture tables the PyTorch and Keras builders share (one home per number)."""

from __future__ import annotations

VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)
"""Simonyan & Zisserman table 1, column D: conv3 widths, "M" = 2x2 max pooling."""

INCEPTION: dict[str, tuple[int, int, int, int, int, int, int]] = {
    # block: (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) -- Szegedy et al. table 1
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}

RESNET50_STAGES: tuple[tuple[int, int, int], ...] = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
"""(bottleneck width, blocks, first stride) of conv2_x .. conv5_x (He et al. table 1); output is 4x width."""

LENET_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
"""LeCun et al. 1998, table I: the S2 maps each of C3's 16 maps reads (6 x 3, 9 x 4, 1 x 6 = 60 links)."""
