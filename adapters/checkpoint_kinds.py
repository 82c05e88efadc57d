"""Naming conventions of checkpoint tensors: the one table that says which layer kind a group of
stored tensors is, and which tensors are buffers.

A checkpoint has no layer objects, only names and shapes, so a kind is a guess from conventions
(`embed_tokens` is an embedding table, a 1-D `weight` a norm scale, a 4-D one a conv kernel) and
the attributes are read off the shapes.  Every layer built here is marked `inferred`: its rule
checks that the tensors fit together (a bias as long as the weight's outputs), never that the
layer is what the name suggests.  Quantized layouts are recognised by `auditor.rules.quantization`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.ir import ParamTensor
from auditor.ir_tensors import Packing
from auditor.rules import RuleError, quantization

EMBEDDING_NAMES = frozenset({
    "embed_tokens", "wte", "wpe", "word_embeddings", "position_embeddings", "token_type_embeddings",
    "tok_embeddings", "embed_positions", "embeddings", "shared", "token_embd", "position_embd", "embedding",
    "rel_attn_embed", "relative_attention_bias", "embed", "emb",
})
"""Last path components that name an embedding table (a 2-D weight looked up by index, not multiplied)."""

BUFFER_NAMES = frozenset({
    "inv_freq", "original_inv_freq", "running_mean", "running_var", "num_batches_tracked", "position_ids",
    "masked_bias",
})
"""Tensor names that frameworks keep as buffers (state, not parameters), whatever their layer."""

STACKED_EXPERTS = ("_exps", "experts")
"""Path endings of mixture-of-experts weights stacked into one tensor per projection (no single-layer rule)."""

ROTARY_NAMES = frozenset({"inv_freq", "original_inv_freq"})
"""Buffers of rotary position embeddings: rotary_dim/2 inverse frequencies each."""

WEIGHT_NAMES = ("weight", "kernel", "gamma", "embeddings")
BIAS_NAMES = ("bias", "beta")
KERAS_BATCH_NORM = ("gamma", "beta", "moving_mean", "moving_variance")
NON_TRAINABLE = frozenset({"moving_mean", "moving_variance"})
"""Keras keeps BatchNorm statistics as non-trainable parameters (4*C per layer), not as buffers."""

UNKNOWN_KIND = "tensors"
"""Kind of a group of tensors no convention classifies (no rule: an unverified row with its count)."""

INFERRED = "checkpoint (kind inferred from tensor names and shapes)"


@dataclass(frozen=True)
class Stored:
    """One stored tensor as a checkpoint lists it: logical dims, canonical dtype and exact bytes."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    shares: str | None = None
    """The name of an earlier tensor whose data this one is (tied weights stored once)."""


@dataclass(frozen=True)
class Inferred:
    kind: str
    attrs: dict[str, Any]
    params: list[ParamTensor]


def _param(rel: str, t: Stored, *, buffer: bool = False, quant_state: bool = False) -> ParamTensor:
    trainable = not buffer and not quant_state and rel not in NON_TRAINABLE
    return ParamTensor(name=rel, shape=t.shape, trainable=trainable, buffer=buffer,
                       dtype=t.dtype, stored_bytes=t.nbytes, quant_state=quant_state)


def _packed_param(rel: str, t: Stored, unpacked: quantization.Unpacked) -> ParamTensor:
    """The logical weight a packed tensor holds: logical shape and bit width, stored form kept in `packing`."""
    return ParamTensor(name=rel, shape=unpacked.shape, dtype=f"int{unpacked.bits}", stored_bytes=t.nbytes,
                       packing=Packing(t.name.rsplit(".", 1)[-1], t.shape, t.dtype, unpacked.formula))


def is_buffer(rel: str, t: Stored) -> bool:
    """Buffers by convention, plus a causal-mask `bias` (rank >= 2 without a weight, GPT-2's attn.bias)."""
    leaf = rel.rsplit(".", 1)[-1]
    return leaf in BUFFER_NAMES or (leaf == "bias" and len(t.shape) >= 2)


def _first(tensors: Mapping[str, Stored], names: tuple[str, ...]) -> tuple[str, Stored] | None:
    for name in names:
        if name in tensors:
            return name, tensors[name]
    return None


def infer(path: str, tensors: Mapping[str, Stored], layout: str = "torch") -> Inferred:
    """The kind, canonical attrs and parameter tensors of one group of stored tensors."""
    quantized = quantization.quant_state_format(set(tensors))
    if quantized is not None:
        try:
            return _quantized(quantized, tensors)
        except RuleError:
            pass  # a layout that does not unpack as its names say: listed as plain tensors
    plain = [_param(rel, t, buffer=is_buffer(rel, t)) for rel, t in tensors.items()]
    kind, attrs = _plain_kind(path, tensors, layout)
    return Inferred(kind, attrs, plain)


def _plain_kind(path: str, tensors: Mapping[str, Stored], layout: str) -> tuple[str, dict[str, Any]]:
    names = set(tensors)
    leaf = path.replace("/", ".").rsplit(".", 1)[-1]
    if {"running_mean", "running_var"} <= names or set(KERAS_BATCH_NORM) <= names:
        return _batch_norm(tensors)
    if names and names <= ROTARY_NAMES:
        (first, *_rest) = tensors.values()
        if len(first.shape) == 1:
            return "rotary_embedding", {"rotary_dim": 2 * first.shape[0], "freq_buffers": len(names)}
    weight = _first(tensors, WEIGHT_NAMES)
    if weight is None or len(names) > 2 or leaf.endswith(STACKED_EXPERTS):
        return UNKNOWN_KIND, {}
    bias = _first(tensors, BIAS_NAMES)
    shape = weight[1].shape
    if len(shape) == 1:
        kind = "layer_norm" if bias is not None else "rms_norm"
        return kind, {"normalized_shape": shape, "scale": True, "center": bias is not None}
    if len(shape) == 2 and (leaf in EMBEDDING_NAMES or weight[0] == "embeddings") and bias is None:
        return "embedding", {"num_embeddings": shape[0], "embedding_dim": shape[1]}
    if len(shape) == 2:
        return "dense", _dense(shape, bias[1].shape if bias else None, layout)
    if 3 <= len(shape) <= 5:
        return _conv(shape, bias[1].shape if bias else None, layout)
    return UNKNOWN_KIND, {}


def _dense(shape: tuple[int, ...], bias: tuple[int, ...] | None, layout: str) -> dict[str, Any]:
    """PyTorch stores (out, in); Keras kernels and GPT-2's Conv1D (in, out): the bias says which."""
    rows, cols = shape
    transposed = layout == "keras" if bias is None else (bias == (cols,) and rows != cols)
    fin, fout = (rows, cols) if transposed else (cols, rows)
    return {"in_features": fin, "out_features": fout, "use_bias": bias is not None}


def _conv(shape: tuple[int, ...], bias: tuple[int, ...] | None, layout: str) -> tuple[str, dict[str, Any]]:
    """PyTorch: (out, in/groups, *kernel), transposed (in, out/groups, *kernel); Keras: (*kernel, in, out)."""
    if layout == "keras":
        kernel, fin, fout = shape[:-2], shape[-2], shape[-1]
    else:
        kernel, fout, fin = shape[2:], shape[0], shape[1]
    kind = "conv"
    if layout != "keras" and bias is not None and bias == (shape[1],) and shape[0] != shape[1]:
        kind, fin, fout = "conv_transpose", shape[0], shape[1]
    rank = len(kernel)
    return kind, {
        "in_channels": fin, "out_channels": fout, "kernel_size": tuple(kernel), "groups": 1,
        "use_bias": bias is not None, "stride": (1,) * rank, "dilation": (1,) * rank,
        "padding": [(0, 0)] * rank, "layout": "channels_last" if layout == "keras" else "channels_first",
    }


def _batch_norm(tensors: Mapping[str, Stored]) -> tuple[str, dict[str, Any]]:
    stats = tensors.get("running_mean") or tensors.get("moving_mean") or next(iter(tensors.values()))
    keras = "moving_mean" in tensors
    return "batch_norm", {
        "num_features": stats.shape[0] if stats.shape else 0,
        "scale": "weight" in tensors or "gamma" in tensors,
        "center": "bias" in tensors or "beta" in tensors,
        "stats": "params" if keras else "buffers",
        "tracks_batches": "num_batches_tracked" in tensors,
        "layout": "channels_last" if keras else "channels_first",
    }


def _quantized(fmt_name: str, tensors: Mapping[str, Stored]) -> Inferred:
    """A quantized linear layer: the packed weight becomes the logical `weight`, the rest is state."""
    bias = tensors.get("bias")
    if fmt_name == "gptq":
        qweight, qzeros, scales = tensors["qweight"], tensors["qzeros"], tensors["scales"]
        if quantization.is_awq(qweight.shape, scales.shape):
            fmt_name, unpack = "awq", quantization.awq_weight
        else:
            unpack = quantization.gptq_weight
        weight = _packed_param("weight", qweight, unpack(qweight.shape, qzeros.shape, scales.shape))
    elif fmt_name == "bnb_4bit":
        stored = tensors["weight"]
        weight = _packed_param("weight", stored, quantization.bnb_4bit_weight(stored.shape))
    else:
        weight = _param("weight", tensors["weight"])
    params = [weight]
    for rel, t in tensors.items():
        if rel in ("weight", "qweight"):
            continue
        params.append(_param(rel, t, quant_state=quantization.is_quant_state(fmt_name, rel),
                             buffer=is_buffer(rel, t)))
    attrs: dict[str, Any] = {"quantization": fmt_name}
    if len(weight.shape) == 2:
        kind = "dense"
        attrs.update(in_features=weight.shape[1], out_features=weight.shape[0], use_bias=bias is not None)
    else:
        kind = UNKNOWN_KIND
    return Inferred(kind, attrs, params)
