"""The shape pass run for a memory budget: as training (or serving) would run it, still allocating nothing.

Differences from the plain pass, each because the budget needs that fact:
- the copy's tensors are fake *CPU* tensors (not meta), so PyTorch picks the kernels it picks on a
  real CPU (fused attention and its output layout, and with them which later reshapes are views);
- the copy is in train() or eval() mode and autograd is on for training, so dropout is active and
  every recorded tensor says whether it needs a gradient;
- mixed precision runs under autocast, a pure half-precision recipe on a cast copy;
- every call and operator records `TensorFact`s (dtype, storage identity and size, strides), and the
  element-wise functions whose backward keeps tensors (softmax, dropout, activations, products) are
  recorded as operators when they run outside a layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from adapters.torch_trace import State
from auditor.pass_facts import PassInfo, TensorFact

CPU = torch.device("cpu")

_ACTIVATIONS = {
    F.relu: "relu", torch.relu: "relu", torch.Tensor.relu: "relu", F.gelu: "gelu", F.silu: "silu",
    torch.tanh: "tanh", torch.Tensor.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid",
    torch.Tensor.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.leaky_relu: "leaky_relu", F.elu: "elu",
    F.softplus: "softplus", F.mish: "mish", F.hardswish: "hardswish", F.relu6: "relu6", torch.exp: "exp",
    torch.Tensor.exp: "exp", torch.rsqrt: "rsqrt", torch.Tensor.rsqrt: "rsqrt",
}
_SOFTMAX = {
    F.softmax: "softmax", torch.softmax: "softmax", torch.Tensor.softmax: "softmax",
    F.log_softmax: "log_softmax", torch.log_softmax: "log_softmax", torch.Tensor.log_softmax: "log_softmax",
}
_PRODUCTS = {
    torch.mul: "mul", torch.Tensor.mul: "mul", torch.Tensor.__mul__: "mul", torch.Tensor.__rmul__: "mul",
    torch.div: "div", torch.Tensor.div: "div", torch.Tensor.__truediv__: "div",
}
"""PyTorch functions -> canonical (kind, op) of the element-wise operators a memory pass records."""


def _kind_of(func: Any) -> tuple[str, str] | None:
    for table, kind in ((_ACTIVATIONS, "activation"), (_SOFTMAX, "softmax"), (_PRODUCTS, "elementwise")):
        if func in table:
            return kind, table[func]
    if func is F.dropout:
        return "dropout", "dropout"
    return None


class _ElementwiseRecorder(TorchFunctionMode):
    """Element-wise functions outside every layer, with their operands' facts."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        found = _kind_of(func)
        if found is None or not self.state.should_record():
            return func(*args, **kwargs)
        kind, op = found
        operands = [a for a in args if isinstance(a, torch.Tensor)]
        if kind == "elementwise" and (len(operands) < 2 or any(t.dim() == 0 for t in operands)):
            return func(*args, **kwargs)  # a product with a scalar keeps nothing
        attrs: dict[str, Any] = {"op": op}
        if kind == "dropout":
            attrs["p"] = float(kwargs.get("p", args[1] if len(args) > 1 else 0.5))
            if not kwargs.get("training", args[2] if len(args) > 2 else True):
                attrs["p"] = 0.0
        return self.state.call_and_record(func, args, kwargs, kind, attrs, operands)


class FactRecorder:
    """Turns the tensors a pass sees into `TensorFact`s; keeps their storages alive for the whole
    pass, so a freed storage's identity is never reused for another tensor."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.state_storages = {
            t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers()) if t is not None
        }
        self.alive: list[Any] = []

    def __call__(self, value: Any) -> list[TensorFact]:
        return [self.fact(t) for t in pytree.tree_leaves(value) if isinstance(t, torch.Tensor)]

    def fact(self, tensor: torch.Tensor) -> TensorFact:
        storage = tensor.untyped_storage()
        self.alive.append(storage)
        key = int(storage._cdata)
        return TensorFact(
            dtype=str(tensor.dtype).removeprefix("torch."),
            storage=key,
            storage_bytes=int(storage.nbytes()),
            requires_grad=bool(tensor.requires_grad),
            strides=tuple(int(s) for s in tensor.stride()),
            model_state=key in self.state_storages,
        )


def fake_cpu(mode: Any, dtype: torch.dtype | None) -> Any:
    """meta tensor -> a fake CPU tensor of the same shape (floating ones cast to `dtype` if given)."""
    def convert(meta: torch.Tensor) -> torch.Tensor:
        if dtype is not None and meta.is_floating_point():
            meta = meta.to(dtype)
        return mode.fake_tensor_converter.from_meta_and_device(mode, meta, CPU)  # type: ignore[no-any-return]
    return convert


@contextlib.contextmanager
def running_as(model: torch.nn.Module, request: PassInfo) -> Iterator[None]:
    """train()/eval() for the pass, and autocast when the recipe is mixed precision."""
    model.train(request.training)
    with contextlib.ExitStack() as stack:
        if request.autocast:
            stack.enter_context(torch.autocast("cpu", dtype=getattr(torch, request.autocast)))
        yield


def cast_dtype(request: PassInfo) -> torch.dtype | None:
    return getattr(torch, request.dtype) if request.dtype else None


MEMORY_MODES = (_ElementwiseRecorder,)
