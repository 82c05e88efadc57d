"""Real architectures to script and trace: their source lives in this file because torch.jit.script reads it.

Each `Case` names a builder, the input the model takes, and which of torch.jit.script / torch.jit.trace
applies; `save` writes the TorchScript archive under any file name (the auditor recognises it by content).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


class ResidualCNN(nn.Module):
    """A small ResNet-style CNN: conv-BN-ReLU stem, a residual block, a depthwise conv, an up-conv, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.depthwise = nn.Conv2d(16, 16, 5, padding=2, groups=16, dilation=1)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(8, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(x + self.bn2(self.conv2(y)))
        x = self.pool(self.up(self.depthwise(x)))
        return self.head(self.gap(x))


class RecurrentTagger(nn.Module):
    """Token ids -> embedding -> 2-layer bidirectional LSTM -> GRU -> LayerNorm -> per-token classes."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(500, 32, padding_idx=0)
        self.lstm = nn.LSTM(32, 48, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(96, 24, batch_first=True)
        self.norm = nn.LayerNorm(24)
        self.out = nn.Linear(24, 7)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm(self.embed(ids))
        x, _ = self.gru(x)
        return self.out(self.norm(x))


class CellLoop(nn.Module):
    """An LSTMCell and a GRUCell stepped over time in a Python loop (a TorchScript loop when scripted)."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(12, 20)
        self.gcell = nn.GRUCell(20, 20)
        self.proj = nn.Linear(20, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(x.size(1), 20, dtype=x.dtype, device=x.device)
        c = torch.zeros(x.size(1), 20, dtype=x.dtype, device=x.device)
        for t in range(x.size(0)):
            h, c = self.cell(x[t], (h, c))
            h = self.gcell(h, h)
        return self.proj(h)


class AttentionBlock(nn.Module):
    """MultiheadAttention with its own widths, then a matrix product written in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True, kdim=24, vdim=16)
        self.query = nn.Linear(32, 32)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        a, _ = self.attn(x, memory, values)
        q = self.query(a)
        return torch.matmul(q, q.transpose(1, 2))


def transformer_encoder() -> nn.Module:
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()


def bert_tiny() -> nn.Module:
    """A BERT with masked-LM head (tied decoder) from a config object: random init, nothing downloaded."""
    import transformers

    config = transformers.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=128, max_position_embeddings=64)
    return transformers.BertForMaskedLM(config).eval()


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], nn.Module]
    shapes: tuple[tuple[int, ...], ...]
    dtype: str = "float32"
    modes: tuple[str, ...] = ("script", "trace")

    def inputs(self) -> tuple[torch.Tensor, ...]:
        if self.dtype == "int64":
            return tuple(torch.randint(1, 100, s) for s in self.shapes)
        return tuple(torch.randn(s) for s in self.shapes)


CASES = [
    Case("cnn", lambda: ResidualCNN().eval(), ((2, 3, 32, 32),)),
    Case("recurrent", RecurrentTagger, ((2, 9),), "int64"),
    Case("cells", CellLoop, ((6, 3, 12),)),
    Case("attention", AttentionBlock, ((2, 5, 32), (2, 7, 24), (2, 7, 16)), modes=("script",)),
    Case("encoder", transformer_encoder, ((2, 6, 32),), modes=("script",)),
    Case("bert", bert_tiny, ((1, 16),), "int64", modes=("trace",)),
]
"""Every architecture and how it converts (a traced MultiheadAttention keeps no num_heads: script it)."""


def convert(model: nn.Module, mode: str, inputs: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    if mode == "script":
        return torch.jit.script(model)
    return torch.jit.trace(model, inputs, strict=False, check_trace=False)


def save(module: torch.jit.ScriptModule, path: Path) -> Path:
    torch.jit.save(module, str(path))
    return path
