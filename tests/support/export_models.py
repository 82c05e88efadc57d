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


class Outputs(torch.nn.Module):
    """A transformers model called with one tensor (no cache), returning the named outputs: what an
    exporter traces (the outputs not named are pruned from the graph, with the layers only they need)."""

    def __init__(self, model: torch.nn.Module, *keys: str) -> None:
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        takes_cache = "use_cache" in self.model.forward.__code__.co_varnames
        out = self.model(x, use_cache=False) if takes_cache else self.model(x)
        return tuple(out[k] for k in self.keys)


def token_ids() -> torch.Tensor:
    return torch.randint(0, 99, (1, SEQUENCE), generator=torch.Generator().manual_seed(0))


def bert() -> torch.nn.Module:
    """An encoder (BERT), both outputs kept."""
    import transformers

    config = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=37, max_position_embeddings=64)
    return Outputs(transformers.BertModel(config), "last_hidden_state", "pooler_output").eval()


def gpt2() -> torch.nn.Module:
    """A decoder whose head is tied to its token embedding (GPT-2)."""
    import transformers

    config = transformers.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0,
                                     eos_token_id=0)
    return Outputs(transformers.GPT2LMHeadModel(config), "logits").eval()


def resnet() -> torch.nn.Module:
    """A BatchNorm CNN (transformers' ResNet, bottleneck blocks)."""
    import transformers

    config = transformers.ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                       layer_type="bottleneck", num_labels=5)
    return Outputs(transformers.ResNetForImageClassification(config), "logits").eval()


def convnext() -> torch.nn.Module:
    """A ConvNeXt: depthwise convs, LayerNorms, layer-scale parameters owned by the block itself."""
    import transformers

    config = transformers.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1], num_stages=2,
                                         num_labels=5)
    return Outputs(transformers.ConvNextForImageClassification(config), "logits").eval()


def vit() -> torch.nn.Module:
    """An encoder whose pooler output is not used (ViT, last hidden state only): the pooler is pruned."""
    import transformers

    config = transformers.ViTConfig(image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=37)
    return Outputs(transformers.ViTModel(config), "last_hidden_state").eval()


def llama() -> torch.nn.Module:
    """A decoder with rotary position embeddings (cos/sin become initializers) and a tied head."""
    import transformers

    config = transformers.LlamaConfig(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                                      tie_word_embeddings=True)
    return Outputs(transformers.LlamaForCausalLM(config), "logits").eval()


class Sidecar(torch.nn.Module):
    """A module never called, a float buffer used in forward, an LSTM started from zero states made in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.unused = torch.nn.Linear(8, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True)
        self.fc = torch.nn.Linear(16, 4)
        self.register_buffer("scale", torch.rand(4, generator=torch.Generator().manual_seed(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x).mean((2, 3))).unsqueeze(1).repeat(1, 5, 1)
        state = (torch.zeros(1, x.shape[0], 16), torch.zeros(1, x.shape[0], 16))
        out, _ = self.lstm(y, state)
        return self.fc(out[:, -1]) * self.scale


def sidecar() -> torch.nn.Module:
    torch.manual_seed(0)
    return perturbed(Sidecar())


IMAGE = (1, 3, 32, 32)
EXAMPLES = {"bert": "ids", "gpt2": "ids", "llama": "ids", "resnet": IMAGE, "convnext": IMAGE, "vit": (1, 3, 16, 16),
            "sidecar": (1, 3, 8, 8)}
"""Each model's example input: token ids, or an image shape."""


def example(name: str) -> torch.Tensor:
    shape = EXAMPLES[name]
    return token_ids() if shape == "ids" else torch.randn(*shape, generator=torch.Generator().manual_seed(0))
