"""What the shape pass records below the module level, and how it keeps every tensor on one device.

`FunctionRecorder` (a TorchFunctionMode) sees calls as the user wrote them: functional layers
(`F.linear`, `F.embedding`, the functional norms, `F.interpolate`, `torch.einsum`), `@` /
`torch.matmul` and `F.scaled_dot_product_attention`.  It also keeps the pass on the pass's device:
tensors created inside `forward` without a device (`torch.arange(n)`, `torch.zeros(...)`) and moves
(`.to("cpu")`, `.cuda()`, `.cpu()`) land on the device the pass runs on instead of a real one.
`DispatchRecorder` (a TorchDispatchMode) sees the aten ops those calls become (mm, bmm, addmm,
baddbmm, convolution, fused attention) and remembers the op that raised, so a stopped pass can name it.
Operators inside a module with a mapping are not recorded: that module's rule already counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode

from auditor.ir import Shape

if TYPE_CHECKING:
    from adapters.torch_trace import State

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


# ---- one device for the whole pass --------------------------------------------------------------------

_FACTORIES = frozenset(_device_constructors())
_DATA_FACTORIES = frozenset((torch.tensor, torch.as_tensor, torch.asarray, torch.scalar_tensor))


def _is_device(value: Any) -> bool:
    return isinstance(value, (str, torch.device)) or (isinstance(value, int) and not isinstance(value, bool))


def _factory(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], device: str) -> tuple[Any, ...] | None:
    """A tensor creation put on `device`.  A scalar made from Python data (`torch.tensor(2.0)`) stays
    where torch puts it: a 0-d CPU tensor combines with tensors on any device, and its value stays
    readable (`.item()`)."""
    if func in _DATA_FACTORIES and args and not isinstance(args[0], (list, tuple, torch.Tensor)):
        return None
    return func, args, {**kwargs, "device": device}


def _to(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], device: str) -> tuple[Any, ...]:
    """`.to(device, ...)` / `.to(device=...)` on `device` (a dtype or another tensor is left as it is)."""
    moved = tuple(device if i and _is_device(a) else a for i, a in enumerate(args))
    return func, moved, ({**kwargs, "device": device} if "device" in kwargs else kwargs)


def _move(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], device: str) -> tuple[Any, ...]:
    """`.cuda()` / `.cpu()` / `.pin_memory()`: a move to `device`."""
    return torch.Tensor.to, (args[0], device), {}


Redirect = Callable[[Any, tuple[Any, ...], dict[str, Any], str], "tuple[Any, ...] | None"]

REDIRECTS: dict[Any, Redirect] = {
    **{f: _factory for f in _FACTORIES},
    torch.Tensor.to: _to,
    **{f: _move for f in (torch.Tensor.cuda, torch.Tensor.cpu, torch.Tensor.pin_memory)},
}
"""Torch functions that create or move tensors -> how to keep them on the pass's device."""


class FunctionRecorder(TorchFunctionMode):
    """Functional layers as written, and tensor creation kept on the pass's device (see module doc)."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        reader = FUNCTIONS.get(func)
        if reader is None:
            redirect = REDIRECTS.get(func)
            redirected = redirect(func, args, kwargs, self.state.device) if redirect is not None else None
            if redirected is not None:
                func, args, kwargs = redirected
            return func(*args, **kwargs)
        if not self.state.should_record():
            return func(*args, **kwargs)
        kind, attrs, operands = reader(args, kwargs)
        inputs = [shape_of(t) for t in operands]
        if kind == "sdpa":
            attrs.update(sdpa_attrs(args, kwargs, self.state.modules[-1] if self.state.modules else None))
        return self.state.call_and_record(func, args, kwargs, kind, attrs, operands, inputs)


# ---- aten operators ----------------------------------------------------------------------------------

_ATEN_MATMUL = {"mm": (0, 1), "bmm": (0, 1), "addmm": (1, 2), "baddbmm": (1, 2), "mv": (0, 1), "dot": (0, 1)}
_ATEN_SDPA = frozenset((
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_attention_math",
))

ATEN_MAC_OPS = frozenset({*_ATEN_MATMUL, *_ATEN_SDPA, "convolution", "conv1d", "conv2d", "conv3d", "linear",
                          "matmul", "einsum", "scaled_dot_product_attention"})
"""aten operators with multiply-accumulates of their own (a graph that calls them outside a mapped module
has MACs no layer accounts for)."""


def _conv_op(args: tuple[Any, ...]) -> OpRecord:
    """aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    in_channels = w.shape[0] if transposed else w.shape[1] * groups
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    attrs: dict[str, Any] = {
        "in_channels": int(in_channels),
        "out_channels": int(out_channels),
        "kernel_size": shape_of(w)[2:],
        "stride": tuple(int(s) for s in stride),
        "dilation": tuple(int(d) for d in dilation),
        "padding": [(int(p), int(p)) for p in padding],
        "groups": int(groups),
        "use_bias": bias is not None,
        "layout": "channels_first",
    }
    if transposed:
        attrs["output_padding"] = tuple(int(p) for p in output_padding)
    return ("conv_transpose_op" if transposed else "conv_op"), attrs, [x, w]


def _aten_record(name: str, args: tuple[Any, ...]) -> OpRecord | None:
    if name in _ATEN_MATMUL:
        return "matmul", {"op": name}, [args[i] for i in _ATEN_MATMUL[name]]
    if name in _ATEN_SDPA:
        return "sdpa", {"op": name}, list(args[:3])
    if name == "convolution":
        return _conv_op(args)
    return None


class DispatchRecorder(TorchDispatchMode):
    """aten matrix products, convolutions and fused attention run outside every layer."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        try:
            out = func(*args, **(kwargs or {}))
        except Exception:
            self.state.op_failed(f"aten.{func.overloadpacket.__name__}")
            raise
        if self.state.should_record():
            record = _aten_record(func.overloadpacket.__name__, args)
            if record is not None:
                kind, attrs, operands = record
                self.state.record(kind, f"aten.{func.overloadpacket.__name__}", attrs,
                                  [shape_of(t) for t in operands], out, operands)
        return out
