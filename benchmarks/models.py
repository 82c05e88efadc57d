"""Model builders for the cases; each imports its framework only when called (in the child process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

SEQUENCE = 128
"""Token count of the transformer inputs (batch 1)."""

LLAMA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, vocab_size=32000)
LLAMA_70B = dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                 num_key_value_heads=8, vocab_size=32000)


@dataclass
class TorchModel:
    """A PyTorch module and the token ids it is run on (on the module's device)."""

    module: Any
    inputs: Any
    device: str


def _tokens(device: str) -> Any:
    import torch

    return torch.zeros((1, SEQUENCE), dtype=torch.int64, device=device)


def _build_torch(make: Callable[[], Any], device: str) -> TorchModel:
    import torch

    with torch.device(device):
        module = make()
    module.eval()
    return TorchModel(module, _tokens(device), device)


def bert_base(device: str = "cpu") -> TorchModel:
    """BERT-base (110 M) from its default config: no network, random weights."""
    from transformers import BertConfig, BertModel

    return _build_torch(lambda: BertModel(BertConfig()), device)


def gpt2(device: str = "cpu") -> TorchModel:
    """GPT-2 small with its LM head (tied to the token embedding)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return _build_torch(lambda: GPT2LMHeadModel(GPT2Config(use_cache=False)), device)


def llama(sizes: dict[str, int], device: str = "meta") -> TorchModel:
    """A LlamaForCausalLM of the given sizes, built on `device` (meta: nothing allocated)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**cast(dict[str, Any], sizes), use_cache=False)
    return _build_torch(lambda: LlamaForCausalLM(config), device)


def tiny_mlp(device: str = "cpu") -> TorchModel:
    """Three Linear layers: the smoke test's model."""
    import torch

    def make() -> Any:
        return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))

    model = _build_torch(make, device)
    model.inputs = torch.zeros((1, 16), device=device)
    return model


def keras_application(name: str) -> Any:
    """A keras.applications model with random weights (weights=None: no download)."""
    import keras

    return getattr(keras.applications, name)(weights=None)
