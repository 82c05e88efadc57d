"""Small models and their ONNX exports for the reconciliation tests: tiny transformers models built from
config objects (nothing downloaded) and plain PyTorch nets, parameters perturbed at random (fresh-init
values let exporters drop or merge tensors; a test that wants that keeps them fresh).

Imported only by tests that have torch; transformers only where a transformers model is built.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Any

import torch

SEQUENCE = 8
"""Token ids per exported sample."""


def perturbed(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter (and BatchNorm running statistic) set to seeded random values; eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=generator) - 0.5)
        for name, b in module.named_buffers():
            if b.dtype.is_floating_point and name.rsplit(".", 1)[-1].startswith("running_"):
                b.copy_(torch.rand(b.shape, generator=generator) + 0.5)
    return module.eval()


def conv_bn() -> torch.nn.Module:
    """Two bias-free convs with BatchNorm, a dense head (input 1x3x8x8): what every exporter folds."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))
    return perturbed(net)


def export(model: torch.nn.Module, example: tuple[Any, ...], path: str, dynamo: bool) -> str:
    """`torch.onnx.export` with one exporter or the other, its console chatter kept out of the test log."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, path, dynamo=dynamo)
    assert os.path.isfile(path)
    return path
