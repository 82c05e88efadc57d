"""Copies of a module for the shape pass: on meta (nothing allocated), or fresh on CPU to run for real.

Both copy the module tree with `copy.deepcopy`, mapping every parameter, buffer and tensor attribute
to a new tensor first, so no tensor data is ever copied from the user's model (a lazy module's
uninitialised parameters stay uninitialised, on meta).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch


def copy_with(module: torch.nn.Module, make: Callable[[torch.Tensor], torch.Tensor]) -> torch.nn.Module:
    """A deep copy of `module` whose tensors are `make(tensor)`: no tensor data is copied."""
    memo: dict[int, Any] = {}
    for sub in module.modules():
        for p in sub._parameters.values():
            if p is not None and id(p) not in memo:
                memo[id(p)] = _lazy(p) if _is_lazy(p) else torch.nn.Parameter(make(p), p.requires_grad)
        for value in list(sub._buffers.values()) + list(vars(sub).values()):
            if isinstance(value, torch.Tensor) and id(value) not in memo:
                memo[id(value)] = _lazy(value) if _is_lazy(value) else make(value)
    return copy.deepcopy(module, memo)


def _is_lazy(t: torch.Tensor) -> bool:
    return isinstance(t, (torch.nn.parameter.UninitializedParameter, torch.nn.parameter.UninitializedBuffer))


def _lazy(t: Any) -> Any:
    """A lazy module's uninitialised tensor, to be materialised on meta (its shape comes from the input)."""
    return type(t)(requires_grad=t.requires_grad, device="meta", dtype=t.dtype)


def meta_copy(module: torch.nn.Module, convert: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.nn.Module:
    """A deep copy of `module` whose tensors are all on meta: no weight is copied or allocated.

    `convert` turns each meta tensor into the copy's own (a memory pass makes fake CPU tensors)."""
    make = convert or (lambda t: t)
    return copy_with(module, lambda t: make(torch.empty_like(t, device="meta")))


def on_meta(module: torch.nn.Module) -> bool:
    """`module` holds tensors and every parameter, buffer and tensor attribute is a plain meta tensor (none
    lazy; a quantized module's packed weights are no tensor attribute, so it holds none): the shape pass
    can run on the module itself, with nothing to copy."""
    found = False
    for sub in module.modules():
        for value in [*sub._parameters.values(), *sub._buffers.values(), *vars(sub).values()]:
            if isinstance(value, torch.Tensor):
                if value.device.type != "meta" or _is_lazy(value):
                    return False
                found = True
    return found


@contextlib.contextmanager
def kept_as_is(module: torch.nn.Module) -> Iterator[None]:
    """Put every submodule's attributes, parameters, buffers and children back as they were on exit: a
    forward that caches a tensor on `self` must not leave a fake one in the user's model."""
    saved = [(sub, dict(vars(sub)), dict(sub._parameters), dict(sub._buffers), dict(sub._modules))
             for sub in module.modules()]
    try:
        yield
    finally:
        for sub, attributes, parameters, buffers, children in saved:
            for name in [n for n in vars(sub) if n not in attributes]:
                del vars(sub)[name]
            vars(sub).update(attributes)
            tables: list[tuple[dict[str, Any], dict[str, Any]]] = [
                (sub._parameters, parameters), (sub._buffers, buffers), (sub._modules, children)]
            for table, before in tables:
                table.clear()
                table.update(before)


def _has_values(t: torch.Tensor) -> bool:
    from torch._subclasses.fake_tensor import FakeTensor

    return t.device.type != "meta" and not isinstance(t, FakeTensor)


def fresh_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy of `module` to run for real: parameters freshly initialised (the user's are never
    used), buffers (running statistics, quantization scales, masks) copied where they have values."""
    real = copy_with(module, lambda t: torch.zeros(t.shape, dtype=t.dtype))
    for sub, own in zip(real.modules(), module.modules()):
        for name, buffer in own._buffers.items():
            if buffer is not None and _has_values(buffer):
                sub._buffers[name] = buffer.detach().clone()
        if getattr(sub.__dict__.get("forward"), "_audit_guard", False):
            del sub.forward  # the copy runs its class's own forward, not the meta module's guard
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            with contextlib.suppress(Exception):
                reset()
    return real


def real_tensor(t: torch.Tensor, originals: dict[int, torch.Tensor]) -> torch.Tensor:
    """The user's own tensor where `t` stands for a model input, else random values of its shape and dtype."""
    if id(t) in originals:
        return originals[id(t)].detach().to("cpu")
    if _has_values(t):
        return t
    shape = [int(d) for d in t.shape]
    if t.is_floating_point() or t.is_complex():
        return torch.randn(shape, dtype=t.dtype)
    return torch.ones(shape, dtype=t.dtype)  # valid as a length, an index and a mask
