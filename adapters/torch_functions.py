"""Functional layers as written inside forward, read into the canonical attrs of their module forms.

`FUNCTIONS` maps a torch function (F.linear, F.embedding, the functional norms, F.interpolate,
torch.einsum, torch.matmul / `@`, F.scaled_dot_product_attention) to a reader that returns the kind,
the attrs and the operands its rule reads.  Translation only; the math is in `auditor.rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from auditor.ir import Shape

OpRecord = tuple[str, dict[str, Any], list[torch.Tensor]]
"""(canonical kind, canonical attrs, the operands the rule reads, in order) of one recorded operator."""


def shape_of(t: torch.Tensor) -> Shape:
    """A tensor's dims as ints; a data-dependent (unbacked) dim keeps its symbol's name ("u0")."""
    return tuple(d if isinstance(d, int) else str(d) for d in t.shape)


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


# ---- functional layers: the same canonical attrs as their module forms ------------------------------


def _linear(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    x, weight, bias = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    out_features, in_features = (weight.shape[0], weight.shape[1]) if weight.dim() == 2 else (1, weight.shape[0])
    attrs = {"in_features": int(in_features), "out_features": int(out_features), "use_bias": bias is not None}
    return "linear_op", attrs, [x]


def _embedding(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    ids, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    attrs = {"num_embeddings": int(weight.shape[0]), "embedding_dim": int(weight.shape[1])}
    return "embedding_op", attrs, [ids]


def _affine(weight: Any, bias: Any) -> dict[str, bool]:
    return {"scale": weight is not None, "center": bias is not None}


def _batch_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """F.batch_norm(input, running_mean, running_var, weight, bias, ...)."""
    x = _arg(args, kwargs, 0, "input")
    attrs = {"num_features": int(x.shape[1]), "stats": "none", "layout": "channels_first",
             **_affine(_arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias"))}
    return "batch_norm_op", attrs, [x]


def _instance_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """F.instance_norm(input, running_mean, running_var, weight, bias, ...)."""
    x = _arg(args, kwargs, 0, "input")
    attrs = {"num_features": int(x.shape[1]), "stats": "none",
             **_affine(_arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias"))}
    return "instance_norm_op", attrs, [x]


def _layer_norm(kind: str) -> Callable[[tuple[Any, ...], dict[str, Any]], OpRecord]:
    """F.layer_norm(input, normalized_shape, weight, bias, eps); F.rms_norm(input, normalized_shape, weight, eps)."""

    def record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
        x, normalized = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "normalized_shape")
        normalized = (normalized,) if isinstance(normalized, int) else tuple(int(d) for d in normalized)
        bias = _arg(args, kwargs, 3, "bias") if kind == "layer_norm_op" else None
        attrs = {"normalized_shape": normalized, **_affine(_arg(args, kwargs, 2, "weight"), bias)}
        return kind, attrs, [x]

    return record


def _group_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """F.group_norm(input, num_groups, weight, bias, eps)."""
    x = _arg(args, kwargs, 0, "input")
    attrs = {"num_groups": int(_arg(args, kwargs, 1, "num_groups")), "num_channels": int(x.shape[1]),
             **_affine(_arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias"))}
    return "group_norm_op", attrs, [x]


def _interpolate(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """F.interpolate(input, size, scale_factor, mode, ...): the resize rule (0 MACs by convention)."""
    x = _arg(args, kwargs, 0, "input")
    rank = max(x.dim() - 2, 1)
    size, scale = _arg(args, kwargs, 1, "size"), _arg(args, kwargs, 2, "scale_factor")
    attrs: dict[str, Any] = {"layout": "channels_first", "mode": _arg(args, kwargs, 3, "mode", "nearest")}
    if size is not None:
        attrs["size"] = tuple(int(s) for s in size) if isinstance(size, (tuple, list)) else (int(size),) * rank
    elif scale is not None:
        attrs["scale"] = tuple(float(s) for s in scale) if isinstance(scale, (tuple, list)) else (float(scale),) * rank
    return "resize", attrs, [x]


def _einsum(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """torch.einsum(equation, *operands) or torch.einsum(equation, [operands])."""
    equation, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = list(operands[0])
    return "einsum", {"equation": str(equation).replace(" ", "")}, list(operands)


def _matmul(func: Any) -> Callable[[tuple[Any, ...], dict[str, Any]], OpRecord]:
    def record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
        operands = [a for a in args if isinstance(a, torch.Tensor)][:2]
        if func is torch.Tensor.__rmatmul__:
            operands.reverse()
        return "matmul", {"op": getattr(func, "__name__", "matmul")}, operands

    return record


def _sdpa(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OpRecord:
    """q, k, v (and the mask, for a memory pass's facts); the options in `sdpa_attrs`."""
    operands = [a for a in args if isinstance(a, torch.Tensor)][:4]
    if isinstance(kwargs.get("attn_mask"), torch.Tensor):
        operands.append(kwargs["attn_mask"])
    return "sdpa", {"op": "scaled_dot_product_attention"}, operands


def sdpa_attrs(args: Any, kwargs: dict[str, Any], module: torch.nn.Module | None) -> dict[str, Any]:
    """F.scaled_dot_product_attention's options, and the calling module's causal / sliding-window facts."""
    dropout = kwargs.get("dropout_p", args[4] if len(args) > 4 else 0.0)
    causal = kwargs.get("is_causal", args[5] if len(args) > 5 else False)
    mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
    attrs: dict[str, Any] = {
        "dropout_p": float(dropout or 0.0),
        "is_causal": bool(causal),
        "has_mask": mask is not None,
        "enable_gqa": bool(kwargs.get("enable_gqa", False)),
    }
    causal_module = getattr(module, "is_causal", None)
    if isinstance(causal_module, bool):
        attrs["causal"] = causal_module or bool(causal)
    groups = getattr(module, "num_key_value_groups", None)
    if isinstance(groups, int) and groups > 1:
        attrs["kv_groups"] = groups
    window = module.sliding_window if module is not None and hasattr(module, "sliding_window") else \
        getattr(getattr(module, "config", None), "sliding_window", None)
    if isinstance(window, int) and window > 0:
        attrs["sliding_window"] = window
    return attrs


FUNCTIONS: dict[Any, Callable[[tuple[Any, ...], dict[str, Any]], OpRecord]] = {
    F.linear: _linear,
    F.embedding: _embedding,
    F.batch_norm: _batch_norm,
    F.instance_norm: _instance_norm,
    F.layer_norm: _layer_norm("layer_norm_op"),
    F.rms_norm: _layer_norm("rms_norm_op"),
    F.group_norm: _group_norm,
    F.interpolate: _interpolate,
    torch.einsum: _einsum,
    F.scaled_dot_product_attention: _sdpa,
    **{f: _matmul(f) for f in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__)},
}
"""Torch functions recorded as written -> how to read their canonical kind, attrs and input shapes."""
