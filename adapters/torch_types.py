"""The PyTorch type map: module class -> canonical kind and canonical attrs (explicit defaults).

`MODULE_TYPES` (an `auditor.registry.Registry`) is keyed by the class's qualified name
("torch.nn.modules.conv.Conv2d", "transformers.pytorch_utils.Conv1D") so nothing is imported to build
the table; users add their own classes with `register_module`.  Lookup walks the module's MRO, so
subclasses follow their base and the most specific class wins.  Attrs translate PyTorch's
conventions into the IR; no math here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


# ---- attrs translators --------------------------------------------------------------------------


def _tuple(value: Any, rank: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * rank


def _pairs(padding: Any, rank: int) -> list[tuple[int, int]]:
    return [(p, p) for p in _tuple(padding, rank)]


def _conv_padding(m: Any, rank: int) -> Any:
    """PyTorch's padding in canonical form; its "same" (stride 1 only) puts the odd pad at the end."""
    if m.padding == "valid":
        return "valid"
    if m.padding == "same":
        return "same_upper"
    return _pairs(m.padding, rank)


def _conv(m: Any, _shape: Shape | None) -> dict[str, Any]:
    rank = len(m.kernel_size)
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": _tuple(m.kernel_size, rank),
        "stride": _tuple(m.stride, rank),
        "dilation": _tuple(m.dilation, rank),
        "padding": _conv_padding(m, rank),
        "groups": m.groups,
        "use_bias": m.bias is not None,
        "layout": "channels_first",
    }


def _conv_transpose(m: Any, shape: Shape | None) -> dict[str, Any]:
    attrs = _conv(m, shape)
    attrs["output_padding"] = _tuple(m.output_padding, len(m.kernel_size))
    return attrs


def _linear(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "use_bias": m.bias is not None}


def _gpt2_conv1d(m: Any, _shape: Shape | None) -> dict[str, Any]:
    """transformers' Conv1D is a Linear whose weight is stored (in, out): y = x @ W + b."""
    return {"in_features": m.nx, "out_features": m.nf, "use_bias": m.bias is not None}


def _embedding(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


_RNN_CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn", "RNN_RELU": "rnn"}


def _rnn(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "cell": _RNN_CELLS[m.mode],
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bidirectional": bool(m.bidirectional),
        "bias_vectors": 2 if m.bias else 0,
        "proj_size": int(getattr(m, "proj_size", 0) or 0),
        "batch_first": bool(m.batch_first),
        "dropout": float(m.dropout),
    }


def _rnn_cell(cell: str, m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "cell": cell,
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": 1,
        "bidirectional": False,
        "bias_vectors": 2 if m.bias else 0,
        "proj_size": 0,
        "batch_first": False,
    }


def _mha(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "query_dim": m.embed_dim,
        "key_dim": m.kdim,
        "value_dim": m.vdim,
        "num_heads": m.num_heads,
        "head_dim": m.head_dim,
        "value_head_dim": m.head_dim,
        "output_dim": m.embed_dim,
        "use_bias": m.in_proj_bias is not None,
        "out_bias": m.out_proj.bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "batch_first": bool(m.batch_first),
    }


def _batch_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "num_features": m.num_features,
        "scale": bool(m.affine),
        "center": bool(m.affine),
        "stats": "buffers" if m.track_running_stats else "none",
        "tracks_batches": bool(m.track_running_stats),
        "layout": "channels_first",
    }


def _group_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_groups": m.num_groups, "num_channels": m.num_channels, "scale": m.affine, "center": m.affine}


def _layer_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    affine = bool(m.elementwise_affine)
    return {
        "normalized_shape": tuple(m.normalized_shape),
        "scale": affine,
        "center": affine and getattr(m, "bias", None) is not None,
    }


def _rms_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"normalized_shape": tuple(m.normalized_shape), "scale": bool(m.elementwise_affine), "center": False}


def _hf_rms_norm(m: Any, shape: Shape | None) -> dict[str, Any]:
    """transformers' RMSNorm classes keep no size attribute: the normalised width is the input's last dim."""
    width = shape[-1] if shape and isinstance(shape[-1], int) else None
    normalized = (width,) if width is not None else tuple(m.weight.shape)
    return {"normalized_shape": normalized, "scale": True, "center": False}


def _rotary(m: Any, _shape: Shape | None) -> dict[str, Any]:
    """transformers' rotary modules: rotary_dim from the config, as transformers itself derives it."""
    config = m.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    partial = rope.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0)) or 1.0
    return {"rotary_dim": int(head_dim * partial), "freq_buffers": 2}


def _prelu(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_parameters": m.num_parameters}


def _pool(op: str, rank: int, m: Any, _shape: Shape | None) -> dict[str, Any]:
    kernel = _tuple(m.kernel_size, rank)
    stride = _tuple(m.stride, rank) if m.stride not in (None, (), []) else kernel
    return {
        "op": op,
        "kernel_size": kernel,
        "stride": stride,
        "dilation": _tuple(getattr(m, "dilation", 1), rank),
        "padding": _pairs(getattr(m, "padding", 0), rank),
        "ceil_mode": bool(m.ceil_mode),
        "layout": "channels_first",
    }


def _adaptive_pool(op: str, rank: int, m: Any, _shape: Shape | None) -> dict[str, Any]:
    size = m.output_size
    out = tuple(size) if isinstance(size, (tuple, list)) else (size,) * rank
    return {"op": op, "output_size": out, "layout": "channels_first"}


def _upsample(m: Any, shape: Shape | None) -> dict[str, Any]:
    rank = max(len(shape) - 2, 1) if shape else None
    attrs: dict[str, Any] = {"layout": "channels_first", "mode": m.mode}
    if m.size is not None:
        attrs["size"] = _tuple(m.size, rank or 1)
    elif rank is not None:
        factor = m.scale_factor
        attrs["scale"] = tuple(float(f) for f in factor) if isinstance(factor, (tuple, list)) else (float(factor),) * rank
    return attrs


def _pad(m: Any, shape: Shape | None) -> dict[str, Any]:
    """PyTorch pads list the last axis first: (left, right, top, bottom, ...)."""
    flat = tuple(int(p) for p in m.padding)
    pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
    if shape is not None:
        pairs = [(0, 0)] * (len(shape) - len(pairs)) + pairs
    return {"pads": pairs, "mode": getattr(m, "mode", "constant")}


def _flatten(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"start_axis": m.start_dim, "end_axis": m.end_dim}


def _dropout(m: Any, _shape: Shape | None) -> dict[str, Any]:
    name = type(m).__name__
    return {"p": float(m.p), "channelwise": name in CHANNEL_DROPOUTS, "alpha": "Alpha" in name}


CHANNEL_DROPOUTS = ("Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout")

TRANSFORMERS_ACTIVATIONS: dict[str, Callable[[Any], str]] = {
    "GELUActivation": lambda m: "gelu" if getattr(m.act, "__name__", "") == "gelu" else "gelu_python",
    "GELUTanh": lambda m: "gelu_tanh" if isinstance(m.act, functools.partial) else "gelu_tanh_python",
    "NewGELUActivation": lambda m: "gelu_tanh_python",
    "QuickGELUActivation": lambda m: "quick_gelu_python",
    "SiLUActivation": lambda m: "silu",
}
"""transformers' activation classes -> the function they compute, and whether it is written in Python."""


def _transformers_activation(m: Any, _shape: Shape | None) -> dict[str, Any]:
    name = type(m).__name__
    found = TRANSFORMERS_ACTIVATIONS.get(name)
    return {"op": found(m) if found else name}


def _named(op: str) -> AttrsFn:
    return lambda m, _shape: {"op": op}


def _plain(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {}


_NN = "torch.nn.modules"

BUILTIN: dict[str, Mapping] = {
    f"{_NN}.conv._ConvNd": Mapping("conv", _conv),
    f"{_NN}.conv._ConvTransposeNd": Mapping("conv_transpose", _conv_transpose),
    f"{_NN}.linear.Linear": Mapping("dense", _linear),
    f"{_NN}.linear.Identity": Mapping("identity", _plain),
    f"{_NN}.sparse.Embedding": Mapping("embedding", _embedding),
    f"{_NN}.rnn.RNNBase": Mapping("rnn", _rnn),
    f"{_NN}.rnn.LSTMCell": Mapping("rnn", functools.partial(_rnn_cell, "lstm")),
    f"{_NN}.rnn.GRUCell": Mapping("rnn", functools.partial(_rnn_cell, "gru")),
    f"{_NN}.rnn.RNNCell": Mapping("rnn", functools.partial(_rnn_cell, "rnn")),
    f"{_NN}.activation.MultiheadAttention": Mapping("attention", _mha),
    f"{_NN}.batchnorm._BatchNorm": Mapping("batch_norm", _batch_norm),
    f"{_NN}.instancenorm._InstanceNorm": Mapping("instance_norm", _batch_norm),
    f"{_NN}.normalization.GroupNorm": Mapping("group_norm", _group_norm),
    f"{_NN}.normalization.LayerNorm": Mapping("layer_norm", _layer_norm),
    f"{_NN}.normalization.RMSNorm": Mapping("rms_norm", _rms_norm),
    f"{_NN}.normalization.LocalResponseNorm": Mapping("activation", _named("local_response_norm")),
    f"{_NN}.activation.PReLU": Mapping("prelu", _prelu),
    f"{_NN}.flatten.Flatten": Mapping("flatten", _flatten),
    f"{_NN}.upsampling.Upsample": Mapping("resize", _upsample),
    f"{_NN}.padding._ConstantPadNd": Mapping("pad", _pad),
    f"{_NN}.padding._ReflectionPadNd": Mapping("pad", _pad),
    f"{_NN}.padding._ReplicationPadNd": Mapping("pad", _pad),
    f"{_NN}.padding._CircularPadNd": Mapping("pad", _pad),
    f"{_NN}.dropout._DropoutNd": Mapping("dropout", _dropout),
    "transformers.pytorch_utils.Conv1D": Mapping("dense", _gpt2_conv1d),
}
"""Qualified class name -> mapping, for torch.nn and the transformers building blocks."""

for _rank in (1, 2, 3):
    BUILTIN[f"{_NN}.pooling.MaxPool{_rank}d"] = Mapping("pool", functools.partial(_pool, "max", _rank))
    BUILTIN[f"{_NN}.pooling.AvgPool{_rank}d"] = Mapping("pool", functools.partial(_pool, "avg", _rank))
    BUILTIN[f"{_NN}.pooling.LPPool{_rank}d"] = Mapping("pool", functools.partial(_pool, "lp", _rank))
    for _op in ("Max", "Avg"):
        BUILTIN[f"{_NN}.pooling.Adaptive{_op}Pool{_rank}d"] = Mapping(
            "adaptive_pool", functools.partial(_adaptive_pool, _op.lower(), _rank)
        )

for _name in ("Softmax", "LogSoftmax", "Softmin", "Softmax2d"):
    BUILTIN[f"{_NN}.activation.{_name}"] = Mapping("softmax", _named(_name.lower()))

for _name in (
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
    "Hardtanh", "Hardswish", "Hardsigmoid", "Hardshrink", "Softshrink", "Tanhshrink", "Softplus",
    "Softsign", "LogSigmoid", "Threshold", "GLU", "RReLU",
):
    BUILTIN[f"{_NN}.activation.{_name}"] = Mapping("activation", _named(_name.lower()))

for _model, _cls in (
    ("llama", "LlamaRMSNorm"), ("t5", "T5LayerNorm"), ("mistral", "MistralRMSNorm"),
    ("qwen2", "Qwen2RMSNorm"), ("qwen3", "Qwen3RMSNorm"), ("gemma", "GemmaRMSNorm"),
    ("mixtral", "MixtralRMSNorm"), ("phi3", "Phi3RMSNorm"), ("mt5", "MT5LayerNorm"),
):
    BUILTIN[f"transformers.models.{_model}.modeling_{_model}.{_cls}"] = Mapping("rms_norm", _hf_rms_norm)

for _model, _cls in (
    ("llama", "LlamaRotaryEmbedding"), ("mistral", "MistralRotaryEmbedding"), ("qwen2", "Qwen2RotaryEmbedding"),
    ("qwen3", "Qwen3RotaryEmbedding"), ("gemma", "GemmaRotaryEmbedding"), ("mixtral", "MixtralRotaryEmbedding"),
):
    BUILTIN[f"transformers.models.{_model}.modeling_{_model}.{_cls}"] = Mapping("rotary_embedding", _rotary)

MODULE_KINDS: dict[str, Mapping] = {"transformers.activations": Mapping("activation", _transformers_activation)}
"""Python module -> mapping for its weight-free classes."""

MODULE_TYPES: Registry[str, Mapping] = Registry("PyTorch module mapping", BUILTIN)
"""Qualified class name -> mapping: the built-ins above and every class users register."""
