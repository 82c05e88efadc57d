"""The PyTorch type map: module class -> canonical kind and canonical attrs (explicit defaults).

`MODULE_TYPES` (an `auditor.registry.Registry`) is keyed by the class's qualified name
("torch.nn.modules.conv.Conv2d", "transformers.pytorch_utils.Conv1D") so nothing is imported to build
the table; users add their own classes with `register_module`.  Lookup walks the module's MRO, so
subclasses follow their base and the most specific class wins.  The attrs translators (PyTorch's
conventions into the IR, no math) live in `torch_attrs`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters import torch_attrs as translate
from auditor.ir import Shape
from auditor.registry import Registry, RegistryError

AttrsFn = Callable[[Any, "Shape | None"], dict[str, Any]]
"""(module, first input shape or None) -> canonical attrs."""


@dataclass(frozen=True)
class Mapping:
    """How one module class enters the IR."""

    kind: str
    attrs: AttrsFn


DuplicateModuleError = RegistryError
"""The registry's one error class, under the name this module has always exported."""


def register_module(
    cls: type, kind: str, attrs: Callable[[Any], dict[str, Any]], *, replace: bool = False
) -> None:
    """Map `cls` (and its subclasses) to canonical `kind`; `attrs(module)` returns the canonical attrs."""
    if not isinstance(cls, type):
        raise TypeError(f"register_module needs a class, not {cls!r}")
    MODULE_TYPES.register(qualified_name(cls), Mapping(kind, lambda module, _shape: attrs(module)), replace=replace)


def unregister_module(cls: type) -> None:
    """Forget the mapping of `cls`, if it has one (for tests and for users replacing their own)."""
    MODULE_TYPES.unregister(qualified_name(cls), missing_ok=True)


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def lookup(module: Any) -> Mapping | None:
    """The mapping of the most specific class in `module`'s MRO that has one."""
    for cls in type(module).__mro__:
        found = MODULE_TYPES.get(qualified_name(cls))
        if found is not None:
            return found
        found = _by_module(cls, module)
        if found is not None:
            return found
    return None


def _by_module(cls: type, module: Any) -> Mapping | None:
    """Whole framework modules of weight-free classes (transformers' activation classes)."""
    if cls.__module__ in MODULE_KINDS and not any(True for _ in module.parameters()):
        return MODULE_KINDS[cls.__module__]
    return None


_NN = "torch.nn.modules"

BUILTIN: dict[str, Mapping] = {
    f"{_NN}.conv._ConvNd": Mapping("conv", translate.conv),
    f"{_NN}.conv._ConvTransposeNd": Mapping("conv_transpose", translate.conv_transpose),
    f"{_NN}.linear.Linear": Mapping("dense", translate.linear),
    f"{_NN}.linear.Identity": Mapping("identity", translate.plain),
    f"{_NN}.sparse.Embedding": Mapping("embedding", translate.embedding),
    f"{_NN}.rnn.RNNBase": Mapping("rnn", translate.rnn),
    f"{_NN}.rnn.LSTMCell": Mapping("rnn", functools.partial(translate.rnn_cell, "lstm")),
    f"{_NN}.rnn.GRUCell": Mapping("rnn", functools.partial(translate.rnn_cell, "gru")),
    f"{_NN}.rnn.RNNCell": Mapping("rnn", functools.partial(translate.rnn_cell, "rnn")),
    f"{_NN}.activation.MultiheadAttention": Mapping("attention", translate.mha),
    f"{_NN}.batchnorm._BatchNorm": Mapping("batch_norm", translate.batch_norm),
    f"{_NN}.instancenorm._InstanceNorm": Mapping("instance_norm", translate.batch_norm),
    f"{_NN}.normalization.GroupNorm": Mapping("group_norm", translate.group_norm),
    f"{_NN}.normalization.LayerNorm": Mapping("layer_norm", translate.layer_norm),
    f"{_NN}.normalization.RMSNorm": Mapping("rms_norm", translate.rms_norm),
    f"{_NN}.normalization.LocalResponseNorm": Mapping("activation", translate.named("local_response_norm")),
    f"{_NN}.activation.PReLU": Mapping("prelu", translate.prelu),
    f"{_NN}.flatten.Flatten": Mapping("flatten", translate.flatten),
    f"{_NN}.upsampling.Upsample": Mapping("resize", translate.upsample),
    f"{_NN}.padding._ConstantPadNd": Mapping("pad", translate.pad),
    f"{_NN}.padding._ReflectionPadNd": Mapping("pad", translate.pad),
    f"{_NN}.padding._ReplicationPadNd": Mapping("pad", translate.pad),
    f"{_NN}.padding._CircularPadNd": Mapping("pad", translate.pad),
    f"{_NN}.dropout._DropoutNd": Mapping("dropout", translate.dropout),
    "transformers.pytorch_utils.Conv1D": Mapping("dense", translate.gpt2_conv1d),
}
"""Qualified class name -> mapping, for torch.nn and the transformers building blocks."""

for _rank in (1, 2, 3):
    BUILTIN[f"{_NN}.pooling.MaxPool{_rank}d"] = Mapping("pool", functools.partial(translate.pool, "max", _rank))
    BUILTIN[f"{_NN}.pooling.AvgPool{_rank}d"] = Mapping("pool", functools.partial(translate.pool, "avg", _rank))
    BUILTIN[f"{_NN}.pooling.LPPool{_rank}d"] = Mapping("pool", functools.partial(translate.pool, "lp", _rank))
    for _op in ("Max", "Avg"):
        BUILTIN[f"{_NN}.pooling.Adaptive{_op}Pool{_rank}d"] = Mapping(
            "adaptive_pool", functools.partial(translate.adaptive_pool, _op.lower(), _rank)
        )

for _name in ("Softmax", "LogSoftmax", "Softmin", "Softmax2d"):
    BUILTIN[f"{_NN}.activation.{_name}"] = Mapping("softmax", translate.named(_name.lower()))

for _name in (
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
    "Hardtanh", "Hardswish", "Hardsigmoid", "Hardshrink", "Softshrink", "Tanhshrink", "Softplus",
    "Softsign", "LogSigmoid", "Threshold", "GLU", "RReLU",
):
    BUILTIN[f"{_NN}.activation.{_name}"] = Mapping("activation", translate.named(_name.lower()))

for _model, _cls in (
    ("llama", "LlamaRMSNorm"), ("t5", "T5LayerNorm"), ("mistral", "MistralRMSNorm"),
    ("qwen2", "Qwen2RMSNorm"), ("qwen3", "Qwen3RMSNorm"), ("gemma", "GemmaRMSNorm"),
    ("mixtral", "MixtralRMSNorm"), ("phi3", "Phi3RMSNorm"), ("mt5", "MT5LayerNorm"),
    ("qwen2_moe", "Qwen2MoeRMSNorm"), ("qwen3_moe", "Qwen3MoeRMSNorm"), ("deepseek_v3", "DeepseekV3RMSNorm"),
):
    BUILTIN[f"transformers.models.{_model}.modeling_{_model}.{_cls}"] = Mapping("rms_norm", translate.hf_rms_norm)

for _model, _cls in (
    ("llama", "LlamaRotaryEmbedding"), ("mistral", "MistralRotaryEmbedding"), ("qwen2", "Qwen2RotaryEmbedding"),
    ("qwen3", "Qwen3RotaryEmbedding"), ("gemma", "GemmaRotaryEmbedding"), ("mixtral", "MixtralRotaryEmbedding"),
    ("qwen2_moe", "Qwen2MoeRotaryEmbedding"), ("qwen3_moe", "Qwen3MoeRotaryEmbedding"),
    ("deepseek_v3", "DeepseekV3RotaryEmbedding"),
):
    BUILTIN[f"transformers.models.{_model}.modeling_{_model}.{_cls}"] = Mapping("rotary_embedding", translate.rotary)

MODULE_KINDS: dict[str, Mapping] = {"transformers.activations": Mapping("activation", translate.transformers_activation)}
"""Python module -> mapping for its weight-free classes."""


for _model, _cls in (
    ("mixtral", "MixtralSparseMoeBlock"), ("qwen2_moe", "Qwen2MoeSparseMoeBlock"),
    ("qwen3_moe", "Qwen3MoeSparseMoeBlock"), ("deepseek_v3", "DeepseekV3MoE"),
):
    BUILTIN[f"transformers.models.{_model}.modeling_{_model}.{_cls}"] = Mapping("moe", translate.moe)


_QUANTIZED = "torch.ao.nn.quantized"
BUILTIN.update({
    f"{_QUANTIZED}.modules.linear.Linear": Mapping("dense", translate.quantized_linear),
    f"{_QUANTIZED}.modules.conv._ConvNd": Mapping("conv", translate.quantized_conv),
    f"{_QUANTIZED}.dynamic.modules.rnn.RNNBase": Mapping("rnn", translate.rnn),
    f"{_QUANTIZED}.modules.Quantize": Mapping("quantize", translate.plain),
})

MODULE_TYPES: Registry[str, Mapping] = Registry("PyTorch module mapping", BUILTIN)
"""Qualified class name -> mapping: the built-ins above and every class users register."""
