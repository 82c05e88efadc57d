"""What the shape pass records below the module level, and how it keeps every tensor on one device.

`FunctionRecorder` (a TorchFunctionMode) sees calls as the user wrote them: functional layers
(`F.linear`, `F.embedding`, the functional norms, `F.interpolate`, `torch.einsum`), `@` /
`torch.matmul` and `F.scaled_dot_product_attention`.  It also keeps the pass on the pass's device:
tensors created inside `forward` without a device (`torch.arange(n)`, `torch.zeros(...)`) and moves
(`.to("cpu")`, `.cuda()`, `.cpu()`) land on the device the pass runs on instead of a real one.
`DispatchRecorder` (a TorchDispatchMode) sees the aten ops those calls become (mm, bmm, addmm,
baddbmm, convolution, fused attention) and remembers the op that raised, so a stopped pass can name it.
In a plain pass it steps off the mode stack while nothing is recorded (`RecorderPause`).
Operators inside a module with a mapping are not recorded: that module's rule already counts them.
The readers of the functional calls live in `torch_functions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode, _get_current_dispatch_mode, _pop_mode, _push_mode

from adapters.torch_functions import FUNCTIONS, OpRecord, sdpa_attrs, shape_of
from auditor.ir import Shape

if TYPE_CHECKING:
    from adapters.torch_trace import State


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


def conv_record(args: tuple[Any, ...]) -> tuple[str, dict[str, Any], list[Shape]]:
    """aten.convolution's arguments as (kind, canonical attrs, [input shape, weight shape])."""
    kind, attrs, operands = _conv_op(args)
    return kind, attrs, [shape_of(t) for t in operands]


_ATEN_RECORDED = frozenset((*_ATEN_MATMUL, *_ATEN_SDPA, "convolution"))


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
        except Exception as err:
            self.state.op_failed(f"aten.{func.overloadpacket.__name__}", err)
            raise
        if self.state.should_record() and func.overloadpacket.__name__ in _ATEN_RECORDED:
            record = _aten_record(func.overloadpacket.__name__, args)
            if record is not None:
                kind, attrs, operands = record
                self.state.record(kind, f"aten.{func.overloadpacket.__name__}", attrs,
                                  [shape_of(t) for t in operands], out, operands)
        return out


class RecorderPause:
    """Takes a `DispatchRecorder` off the dispatch-mode stack while its pass records nothing (a layer with a
    mapping runs, or a call recorded whole), and puts it back after: an aten op there makes no trip through
    Python (in a transformer most ops run inside layers).

    What it does not see there is which op raised; `unseen` says when the pass should run again with the
    recorder on all the way to name it as that pass would."""

    def __init__(self, recorder: DispatchRecorder) -> None:
        self.recorder = recorder
        self.off = False
        self.depth = 0
        """Length of the dispatch-mode stack once the recorder was taken off."""
        self.used = False
        """The recorder was off for part of the pass."""
        self.lost = False
        """Model code changed the mode stack meanwhile: the recorder stayed off for the rest of the pass."""

    def follow(self, recording: bool) -> None:
        """Off when the pass stops recording, on again when it records once more."""
        if recording == (not self.off) or self.lost:
            return
        if not recording:
            if _get_current_dispatch_mode() is not self.recorder:  # a mode of the model's own is on top
                return
            _pop_mode()
            self.off, self.used, self.depth = True, True, torch._C._len_torch_dispatch_stack()
        elif torch._C._len_torch_dispatch_stack() == self.depth:
            _push_mode(self.recorder)
            self.off = False
        else:
            self.lost = True

    def restore(self) -> None:
        """On the stack again (the recorder's own exit takes it off), however the pass ended."""
        if self.off:
            _push_mode(self.recorder)
            self.off = False

    def unseen(self, error: BaseException | None) -> bool:
        """The pass may differ from one with the recorder on all the way: it ran the rest off, or it stopped
        with an error the recorder did not see raised (an op where it was off, or model code after one)."""
        return self.lost or (error is not None and self.used and error is not self.recorder.state.failed_error)
