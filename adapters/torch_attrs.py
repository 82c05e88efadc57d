"""Attrs translators: a PyTorch module's hyper-parameters in the IR's canonical form (explicit defaults).

One function per module family, `(module, first input shape or None) -> attrs`; `torch_types` maps
classes to them.  Translation only: PyTorch's conventions into the IR's, no layer math here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from auditor.ir import Shape


def int_tuple(value: Any, rank: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * rank


def pairs(padding: Any, rank: int) -> list[tuple[int, int]]:
    return [(p, p) for p in int_tuple(padding, rank)]


def conv_padding(m: Any, rank: int) -> Any:
    """PyTorch's padding in canonical form; its "same" (stride 1 only) puts the odd pad at the end."""
    if m.padding == "valid":
        return "valid"
    if m.padding == "same":
        return "same_upper"
    return pairs(m.padding, rank)


def conv(m: Any, _shape: Shape | None) -> dict[str, Any]:
    rank = len(m.kernel_size)
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": int_tuple(m.kernel_size, rank),
        "stride": int_tuple(m.stride, rank),
        "dilation": int_tuple(m.dilation, rank),
        "padding": conv_padding(m, rank),
        "groups": m.groups,
        "use_bias": m.bias is not None,
        "layout": "channels_first",
    }


def conv_transpose(m: Any, shape: Shape | None) -> dict[str, Any]:
    attrs = conv(m, shape)
    attrs["output_padding"] = int_tuple(m.output_padding, len(m.kernel_size))
    return attrs


def linear(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "use_bias": m.bias is not None}


def gpt2_conv1d(m: Any, _shape: Shape | None) -> dict[str, Any]:
    """transformers' Conv1D is a Linear whose weight is stored (in, out): y = x @ W + b."""
    return {"in_features": m.nx, "out_features": m.nf, "use_bias": m.bias is not None}


def embedding(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


_RNN_CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn", "RNN_RELU": "rnn"}


def rnn(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "cell": _RNN_CELLS[m.mode],
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bidirectional": bool(m.bidirectional),
        "bias_vectors": 2 if m.bias else 0,
        "proj_size": int(getattr(m, "proj_size", 0) or 0),
        "batch_first": bool(m.batch_first),
        "dropout": float(getattr(m, "dropout", 0.0) or 0.0),
    }


def rnn_cell(cell: str, m: Any, _shape: Shape | None) -> dict[str, Any]:
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


def mha(m: Any, _shape: Shape | None) -> dict[str, Any]:
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


def batch_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {
        "num_features": m.num_features,
        "scale": bool(m.affine),
        "center": bool(m.affine),
        "stats": "buffers" if m.track_running_stats else "none",
        "tracks_batches": bool(m.track_running_stats),
        "layout": "channels_first",
    }


def group_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_groups": m.num_groups, "num_channels": m.num_channels, "scale": m.affine, "center": m.affine}


def layer_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    affine = bool(m.elementwise_affine)
    return {
        "normalized_shape": tuple(m.normalized_shape),
        "scale": affine,
        "center": affine and getattr(m, "bias", None) is not None,
    }


def rms_norm(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"normalized_shape": tuple(m.normalized_shape), "scale": bool(m.elementwise_affine), "center": False}


def hf_rms_norm(m: Any, shape: Shape | None) -> dict[str, Any]:
    """transformers' RMSNorm classes keep no size attribute: the normalised width is the input's last dim."""
    width = shape[-1] if shape and isinstance(shape[-1], int) else None
    normalized = (width,) if width is not None else tuple(m.weight.shape)
    return {"normalized_shape": normalized, "scale": True, "center": False}


def rotary(m: Any, _shape: Shape | None) -> dict[str, Any]:
    """transformers' rotary modules: rotary_dim from the config, as transformers itself derives it."""
    config = m.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    partial = rope.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0)) or 1.0
    return {"rotary_dim": int(head_dim * partial), "freq_buffers": 2}


def prelu(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"num_parameters": m.num_parameters}


def pool(op: str, rank: int, m: Any, _shape: Shape | None) -> dict[str, Any]:
    kernel = int_tuple(m.kernel_size, rank)
    stride = int_tuple(m.stride, rank) if m.stride not in (None, (), []) else kernel
    return {
        "op": op,
        "kernel_size": kernel,
        "stride": stride,
        "dilation": int_tuple(getattr(m, "dilation", 1), rank),
        "padding": pairs(getattr(m, "padding", 0), rank),
        "ceil_mode": bool(m.ceil_mode),
        "layout": "channels_first",
    }


def adaptive_pool(op: str, rank: int, m: Any, _shape: Shape | None) -> dict[str, Any]:
    size = m.output_size
    out = tuple(size) if isinstance(size, (tuple, list)) else (size,) * rank
    return {"op": op, "output_size": out, "layout": "channels_first"}


def upsample(m: Any, shape: Shape | None) -> dict[str, Any]:
    rank = max(len(shape) - 2, 1) if shape else None
    attrs: dict[str, Any] = {"layout": "channels_first", "mode": m.mode}
    if m.size is not None:
        attrs["size"] = int_tuple(m.size, rank or 1)
    elif rank is not None:
        factor = m.scale_factor
        attrs["scale"] = tuple(float(f) for f in factor) if isinstance(factor, (tuple, list)) else (float(factor),) * rank
    return attrs


def pad(m: Any, shape: Shape | None) -> dict[str, Any]:
    """PyTorch pads list the last axis first: (left, right, top, bottom, ...)."""
    flat = tuple(int(p) for p in m.padding)
    pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
    if shape is not None:
        pairs = [(0, 0)] * (len(shape) - len(pairs)) + pairs
    return {"pads": pairs, "mode": getattr(m, "mode", "constant")}


def flatten(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"start_axis": m.start_dim, "end_axis": m.end_dim}


def dropout(m: Any, _shape: Shape | None) -> dict[str, Any]:
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


def transformers_activation(m: Any, _shape: Shape | None) -> dict[str, Any]:
    name = type(m).__name__
    found = TRANSFORMERS_ACTIVATIONS.get(name)
    return {"op": found(m) if found else name}


def named(op: str) -> Any:
    return lambda m, _shape: {"op": op}


def plain(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {}


def moe(m: Any, _shape: Shape | None) -> dict[str, Any]:
    """transformers' sparse MoE blocks: `gate` (router, top_k), `experts` (3-D gate_up/down weights),
    and optionally a gated `shared_expert(s)` MLP and Qwen2-MoE's `shared_expert_gate`."""
    experts, router = m.experts, m.gate
    shared = getattr(m, "shared_expert", None) or getattr(m, "shared_experts", None)
    return {
        "hidden_size": int(experts.hidden_dim),
        "num_experts": int(experts.num_experts),
        "top_k": int(router.top_k),
        "expert_size": int(experts.intermediate_dim),
        "gated": bool(getattr(experts, "has_gate", True)),
        "expert_bias": bool(getattr(experts, "has_bias", False)),
        "router_bias": getattr(router, "bias", None) is not None,
        "router_correction": hasattr(router, "e_score_correction_bias"),
        "shared_size": int(shared.intermediate_size) if shared is not None else 0,
        "shared_gate": getattr(m, "shared_expert_gate", None) is not None,
    }


def quantized_linear(m: Any, _shape: Shape | None) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "use_bias": m.bias() is not None}


def quantized_conv(m: Any, shape: Shape | None) -> dict[str, Any]:
    return {**conv(m, shape), "use_bias": m.bias() is not None}
