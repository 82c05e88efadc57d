"""LeNet-5 exactly as LeCun et al. (1998) describe it, as custom PyTorch modules.

C-layers with connection tables, S-layers with one trainable coefficient and bias per map, F6, and
a Euclidean RBF output with fixed centres; every unit squashes with f(a) = 1.7159 tanh(2a/3).
Importing this module maps each class to its kind through the public adapter API
(`adapters.torch.register_module`), the same call a user makes for a layer of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reference_models import lecun_rules  # noqa: F401  (registers the lecun_* rules)
from reference_models.architectures import LENET_C3_TABLE


def squash(a: torch.Tensor) -> torch.Tensor:
    """LeCun's sigmoid: 1.7159 * tanh(2a/3) (appendix A of the paper)."""
    return 1.7159 * torch.tanh(a * (2.0 / 3.0))


class LeCunConv(nn.Module):
    """C-layer: output map j convolves the input maps `table[j]` (all of them by default), plus a bias.

    The kernels of all maps are packed into one vector, `weight`, of sum(len(table[j])) * k * k values.
    """

    def __init__(self, in_maps: int, out_maps: int, kernel: int = 5, table: tuple[tuple[int, ...], ...] | None = None):
        super().__init__()
        self.in_maps, self.out_maps, self.kernel = in_maps, out_maps, kernel
        self.table = tuple(tuple(r) for r in table) if table else tuple(tuple(range(in_maps)) for _ in range(out_maps))
        links = sum(len(row) for row in self.table)
        bound = 2.4 / (in_maps * kernel * kernel)  # the paper's uniform init, +-2.4 / fan-in
        self.weight = nn.Parameter(torch.empty(links * kernel * kernel).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_maps))

    @property
    def full(self) -> bool:
        return all(len(row) == self.in_maps for row in self.table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        if self.full:
            weight = self.weight.view(self.out_maps, self.in_maps, k, k)
            return squash(F.conv2d(x, weight, self.bias))
        maps, start = [], 0
        for j, row in enumerate(self.table):
            size = len(row) * k * k
            kernel = self.weight[start : start + size].view(1, len(row), k, k)
            maps.append(F.conv2d(x[:, list(row)], kernel, self.bias[j : j + 1]))
            start += size
        return squash(torch.cat(maps, dim=1))


class LeCunSubsampling(nn.Module):
    """S-layer: each unit sums a 2x2 window, times the map's coefficient, plus the map's bias."""

    def __init__(self, maps: int, window: int = 2):
        super().__init__()
        self.maps, self.window = maps, window
        self.coefficient = nn.Parameter(torch.ones(maps))
        self.bias = nn.Parameter(torch.zeros(maps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.window
        summed = F.avg_pool2d(x, w) * (w * w)
        return squash(summed * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1))


class LeCunFull(nn.Module):
    """F6: a fully connected layer of squashed units."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 2.4 / in_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return squash(F.linear(x, self.weight, self.bias))


class RBFOutput(nn.Module):
    """Euclidean RBF units: y_i = sum_j (x_j - w_ij)^2; the +-1 centres are fixed (requires_grad=False)."""

    def __init__(self, in_features: int = 84, classes: int = 10):
        super().__init__()
        self.in_features, self.classes = in_features, classes
        signs = torch.randint(0, 2, (classes, in_features)).float() * 2 - 1
        self.centres = nn.Parameter(signs, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.unsqueeze(1) - self.centres) ** 2).sum(dim=-1)


def lenet5_1998() -> nn.Sequential:
    """Input 1x32x32 -> C1 6@28x28 -> S2 6@14x14 -> C3 16@10x10 -> S4 16@5x5 -> C5 120 -> F6 84 -> RBF 10."""
    return nn.Sequential(
        OrderedDict(
            C1=LeCunConv(1, 6, 5),
            S2=LeCunSubsampling(6),
            C3=LeCunConv(6, 16, 5, table=LENET_C3_TABLE),
            S4=LeCunSubsampling(16),
            C5=LeCunConv(16, 120, 5),
            flatten=nn.Flatten(),
            F6=LeCunFull(120, 84),
            output=RBFOutput(84, 10),
        )
    )


def conv_attrs(m: LeCunConv) -> dict[str, Any]:
    return {
        "in_channels": m.in_maps, "out_channels": m.out_maps, "kernel_size": (m.kernel, m.kernel),
        "table": m.table, "layout": "channels_first",
    }


def subsampling_attrs(m: LeCunSubsampling) -> dict[str, Any]:
    return {"channels": m.maps, "window": (m.window, m.window), "layout": "channels_first"}


def full_attrs(m: LeCunFull) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features}


def rbf_attrs(m: RBFOutput) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.classes}


MODULE_KINDS = (
    (LeCunConv, "lecun_conv", conv_attrs),
    (LeCunSubsampling, "lecun_subsampling", subsampling_attrs),
    (LeCunFull, "lecun_full", full_attrs),
    (RBFOutput, "lecun_rbf", rbf_attrs),
)


def register_modules() -> bool:
    """Tell the PyTorch adapter which kind each class is; False while that adapter is not installed."""
    try:
        from adapters.torch import register_module
    except ImportError:
        return False
    for cls, kind, attrs_fn in MODULE_KINDS:
        register_module(cls, kind, attrs_fn)
    return True


register_modules()
