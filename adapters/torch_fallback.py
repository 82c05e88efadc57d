"""The guarded pass: what to do when a module cannot run on meta tensors.

Some forwards need tensor values (`pack_padded_sequence`, `nonzero`, `.item()` in a branch) or call an
op whose meta kernel is stricter than its CPU one (transformers' grouped-mm experts).  In the second,
guarded pass every layer-level module of the audit's own copy gets a guard around its forward; when
the forward raises, the smallest guarded module around the failure
- runs for real on CPU, when its parameters are tiny (at most `REAL_RUN_LIMIT` elements), on a fresh
  module of the same structure (never the user's) and on the user's own input values where it was
  given them (else on random ones), so the shapes after it are those of real values; or
- takes its output shape from its rule, when it is a layer whose rule computes one from the inputs
  it received (a mixture-of-experts block: its input's shape), so every later layer keeps its shapes;
- or lets the failure go to the enclosing guard, and the pass stops with the op and module named.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils import _pytree as pytree

from adapters.torch_copies import fresh_copy, real_tensor
from adapters.torch_events import Fallback, Stop, error_text
from adapters.torch_trace import State
from adapters.torch_types import lookup
from auditor.ir import Layer, is_static
from auditor.rules import RuleError, get_rule

REAL_RUN_LIMIT = 1 << 22
"""Largest parameter count (4,194,304 elements, 16 MiB at fp32) a module may have to be run for real."""


class _Confirmed(Exception):
    """The module fails on real tensors too: enclosing guards must not try again."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error_text(error))
        self.error = error


def _guard_sites(model: torch.nn.Module, mapped: set[str]) -> Iterator[tuple[str, torch.nn.Module]]:
    """Every module that is not inside a layer with a mapping (whose internals no rule needs)."""
    covered: set[str] = set()
    """Mapped paths and everything below them (named_modules lists a parent before its children)."""
    for path, module in model.named_modules():
        if path and (path.rpartition(".")[0] in covered or "" in covered):
            covered.add(path)
            continue
        if path in mapped:
            covered.add(path)
        yield path, module


@contextlib.contextmanager
def guards(model: torch.nn.Module, state: State) -> Iterator[None]:
    """Wrap the forward of every layer-level module of `model` (the audit's copy) for the block."""
    wrapped: list[tuple[torch.nn.Module, Any]] = []
    for path, module in _guard_sites(model, state.mapped):
        wrapped.append((module, module.__dict__.get("forward")))
        module.forward = _guarded(module, path, module.forward, state)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for module, own in wrapped:
            if own is None:
                del module.forward
            else:
                module.forward = own  # type: ignore[method-assign]


def _guarded(module: torch.nn.Module, path: str, forward: Any, state: State) -> Any:
    @functools.wraps(forward)
    def guarded_forward(*args: Any, **kwargs: Any) -> Any:
        mark = state.mark()
        state.failed = None
        try:
            return forward(*args, **kwargs)
        except _Confirmed:
            raise
        except Exception as err:
            op = state.failed[0] if state.failed else None  # set by the op that raised, cleared below
            reason = f"{op}: {error_text(err)}" if op else error_text(err)
            attempt = (state.trace.events[mark.events :], state.calls, state.ops)
            state.rollback(mark)
            try:
                return _instead(module, path, (args, kwargs), reason, state, err)
            except BaseException:  # no fallback: what the attempt recorded before failing stands
                del state.trace.events[mark.events :]
                state.trace.events.extend(attempt[0])
                state.calls, state.ops = attempt[1], attempt[2]
                raise

    guarded_forward._audit_guard = True  # type: ignore[attr-defined]
    return guarded_forward


def _instead(
    module: torch.nn.Module, path: str, inputs: tuple[tuple[Any, ...], dict[str, Any]], reason: str, state: State,
    err: Exception,
) -> Any:
    """The module's output by another way (real run, its rule), or the failure passed on."""
    name = type(module).__name__
    if sum(p.numel() for p in module.parameters()) <= REAL_RUN_LIMIT:
        try:
            out = _run_for_real(module, path, inputs, state)
        except Exception as real_err:
            state.stop = state.stop or Stop(path, state.failed[0] if state.failed else None, error_text(real_err), True)
            raise _Confirmed(real_err) from None
        state.trace.fallbacks.append(Fallback(path, name, "real", reason))
        return out
    out = _rule_output(module, path, inputs)
    if out is not None:
        state.trace.fallbacks.append(Fallback(path, name, "rule", reason))
        return out
    if state.stop is None:
        op = state.failed[0] if state.failed else None
        state.stop = Stop(path, op, error_text(err))
    raise err


# ---- a real run of one small module ---------------------------------------------------------------


def _run_for_real(module: torch.nn.Module, path: str, inputs: Any, state: State) -> Any:
    """Run a fresh copy of `module` on CPU; its submodules are recorded under `path` as usual."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    device, state.device = state.device, "cpu"
    added: dict[int, str] = {}
    with unset_fake_temporarily():
        try:
            real = fresh_copy(module)
            added = {id(sub): f"{path}.{name}" if path else name for name, sub in real.named_modules() if name}
            state.paths.update(added)
            args, kwargs = pytree.tree_map(
                lambda x: real_tensor(x, state.originals) if isinstance(x, torch.Tensor) else x, inputs
            )
            out = real.forward(*args, **kwargs)  # its own call is already on the stack
            return pytree.tree_map(lambda x: torch.empty_like(x, device="meta") if isinstance(x, torch.Tensor) else x,
                                   out)
        finally:
            state.device = device
            for key in added:
                state.paths.pop(key, None)


# ---- an output shape from the layer's rule --------------------------------------------------------


def _rule_output(module: torch.nn.Module, path: str, inputs: Any) -> torch.Tensor | None:
    """One tensor of the shape the layer's rule gives for these inputs, or None when it gives none."""
    mapping = lookup(module)
    tensors = [x for x in pytree.tree_leaves(inputs) if isinstance(x, torch.Tensor)]
    rule = get_rule(mapping.kind) if mapping else None
    if mapping is None or rule is None or not tensors:
        return None
    shapes = [tuple(int(d) for d in t.shape) for t in tensors]
    try:
        layer = Layer(path, mapping.kind, type(module).__name__, mapping.attrs(module, shapes[0]), list(shapes))
        out = rule.output_shapes(layer)
    except (RuleError, TypeError, ValueError, AttributeError):
        return None
    if not out or len(out) != 1 or not is_static(out[0]):
        return None
    return torch.empty(out[0], dtype=tensors[0].dtype, device="meta")  # type: ignore[arg-type]
