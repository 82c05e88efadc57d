"""The memory budget against what PyTorch itself holds, on six small real models with real CPU tensors.

Saved activations are compared with `saved_tensors_hooks` over one training forward (unique storages,
parameters excluded); gradients with the `.grad` bytes; optimizer state with `optimizer.state` after
one step; the KV cache with transformers' cache tensors after one forward with use_cache=True.  The
budgets use device="cpu": the CPU's kernels (dropout's float mask, CPU attention kernels) are what
runs here.  The LSTM is measured with oneDNN off, on PyTorch's native kernel, whose needs the rule
states (oneDNN keeps an opaque workspace instead).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402
from support.torch_memory import (  # noqa: E402
    gradient_bytes,
    kv_cache_bytes,
    loss_of,
    optimizer_state_bytes,
    saved_activations,
)
from torch import nn  # noqa: E402

import auditor  # noqa: E402
from auditor.memory import MemoryOptions, memory_budget  # noqa: E402


class WordLanguageModel(nn.Module):
    """pytorch/examples' word_language_model RNNModel: embedding, dropout, 2-layer LSTM, linear, log-softmax."""

    def __init__(self, ntoken: int = 200, ninp: int = 32, nhid: int = 48, nlayers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, tokens: Any) -> Any:
        output, hidden = self.rnn(self.drop(self.encoder(tokens)))
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


def _cnn_bn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 10),
    )


def _seed000() -> nn.Module:
    from reference_models import build

    return build("lasagne-mnist", "torch")  # type: ignore[no-any-return]


def _bert() -> nn.Module:
    config = transformers.BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=512, max_position_embeddings=128)
    return transformers.BertModel(config)


def _gpt2() -> nn.Module:
    config = transformers.GPT2Config(vocab_size=1000, n_embd=64, n_layer=2, n_head=4, n_positions=128,
                                     bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config)


def _llama() -> nn.Module:
    config = transformers.LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return transformers.LlamaForCausalLM(config)


def _mistral() -> nn.Module:
    config = transformers.MistralConfig(vocab_size=1000, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=1, sliding_window=16)
    return transformers.MistralForCausalLM(config)


@dataclass(frozen=True)
class Case:
    build: Callable[[], nn.Module]
    inputs: Callable[[], dict[str, Any]]
    """Keyword inputs of one real forward (as the audit's example_inputs too)."""
    kernels: Callable[[], Any] = contextlib.nullcontext


def _tokens(shape: tuple[int, ...]) -> Callable[[], dict[str, Any]]:
    return lambda: {"input_ids": torch.randint(0, 200, shape)}


CASES = {
    "cnn-batchnorm": Case(_cnn_bn, lambda: {"input": torch.randn(4, 3, 32, 32)}),
    "seed000-cnn": Case(_seed000, lambda: {"input": torch.randn(8, 1, 28, 28)}),
    "bert-tiny": Case(_bert, _tokens((2, 32))),
    "gpt2-tiny": Case(_gpt2, _tokens((2, 32))),
    "lstm-lm": Case(WordLanguageModel, lambda: {"tokens": torch.randint(0, 200, (35, 4))},
                    lambda: torch.backends.mkldnn.flags(enabled=False)),
    "llama-tiny": Case(_llama, _tokens((2, 32))),
}


@dataclass
class Built:
    model: nn.Module
    inputs: dict[str, Any]
    case: Case
    ir: Any
    """The IR of one audit with a training memory pass (shared by the tests of this model)."""


@pytest.fixture(scope="module", params=sorted(CASES))
def built(request: pytest.FixtureRequest) -> Built:
    case = CASES[request.param]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = case.build()
    inputs = case.inputs()
    report = auditor.audit(model, example_inputs=inputs, memory="train", device="cpu")
    return Built(model, inputs, case, report.model)


def _budget(built: Built, **options: Any) -> Any:
    return memory_budget(built.ir, MemoryOptions(device="cpu", **options))


def test_saved_activations_within_5_percent_of_autograd(built: Built) -> None:
    with built.case.kernels():
        measured, _ = saved_activations(built.model, **built.inputs)
    budget = _budget(built)
    ours = budget.item("activations saved for backward")
    assert ours.complete, ours.formula
    assert abs(ours.bytes - measured.bytes) <= 0.05 * measured.bytes, (ours.bytes, measured)


OPTIMIZERS = {
    "momentum": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-3),
    "adafactor": lambda params: torch.optim.Adafactor(params, lr=1e-3),
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01),
}


def test_gradients_and_optimizer_states_equal_torch_after_one_step(built: Built) -> None:
    """One backward, then one step of every optimizer on those gradients."""
    model = built.model
    model.zero_grad(set_to_none=True)
    with built.case.kernels():
        loss_of(model(**built.inputs)).backward()
    grads = sum(i.bytes for i in _budget(built).items if i.name.startswith("gradients"))
    assert grads == gradient_bytes(model)
    for name, make in OPTIMIZERS.items():
        optimizer = make(model.parameters())
        optimizer.step()
        state = sum(i.bytes for i in _budget(built, optimizer=name).items if i.name.startswith("optimizer state"))
        assert state == optimizer_state_bytes(optimizer), name


def test_frozen_parameters_get_no_gradient_and_no_state() -> None:
    model = _cnn_bn()
    for p in model[0].parameters():
        p.requires_grad_(False)
    budget = auditor.audit(model, input_shape=(2, 3, 32, 32), memory="train", optimizer="adam").memory
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert budget.item("gradients").bytes == 4 * trainable
    assert budget.item("optimizer state").bytes == 2 * 4 * trainable + 4 * sum(
        1 for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("build", [_gpt2, _llama, _mistral], ids=["gpt2", "llama-gqa", "mistral-sliding-window"])
def test_kv_cache_equals_transformers_cache(build: Callable[[], nn.Module]) -> None:
    torch.manual_seed(0)
    model = build().eval()
    tokens = torch.randint(0, 200, (2, 32))
    with torch.no_grad():
        cache = model(input_ids=tokens, use_cache=True).past_key_values
    report = auditor.audit(model, example_inputs={"input_ids": tokens}, memory="infer", device="cpu")
    assert report.memory.item("KV cache").bytes == kv_cache_bytes(cache)


@pytest.mark.parametrize("precision", ["bf16", "bf16-mixed"])
@pytest.mark.parametrize("build", [_gpt2, _llama], ids=["gpt2", "llama"])
def test_half_precision_recipes_within_5_percent(build: Callable[[], nn.Module], precision: str) -> None:
    """bf16: the model cast to bfloat16; bf16-mixed: float32 weights under CPU autocast, whose casts of
    the weights are saved tensors too (the budget's "weight copies" item)."""
    torch.manual_seed(0)
    model = build()
    tokens = {"input_ids": torch.randint(0, 200, (2, 32))}
    if precision == "bf16":
        model = model.to(torch.bfloat16)
        measured, _ = saved_activations(model, **tokens)
    else:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            measured, _ = saved_activations(model, **tokens)
    budget = auditor.audit(model, example_inputs=tokens, memory="train", device="cpu", precision=precision).memory
    ours = sum(i.bytes for i in budget.items if i.name.startswith(("activations", "weight copies")))
    assert abs(ours - measured.bytes) <= 0.05 * measured.bytes, (ours, measured)
