"""One forward pass on the meta device that records what module hooks and operators saw.

Module calls come from global forward hooks (nothing is registered on the user's modules); operators
written inside modules without a mapping come from the two modes of `torch_ops`.  When the pass
stops (a data-dependent op, an op with no meta kernel), it is run a second time with a guard around
every layer-level module (`torch_fallback`): the smallest guarded module around the failure is run
for real when its parameters are tiny, or takes its output shape from its rule, and the pass goes on.
What still cannot run stops the pass with the op and the module named.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils import _pytree as pytree

from adapters.quiet import quiet_loggers
from adapters.torch_copies import real_tensor
from adapters.torch_events import Call, FactsFn, Op, Stop, Trace, error_text, tensor_shapes
from adapters.torch_functions import shape_of
from adapters.torch_ops import DispatchRecorder, FunctionRecorder, RecorderPause
from auditor.ir import Shape

__all__ = ["PassMode", "State", "run_pass"]


@dataclass(frozen=True)
class _Mark:
    """The bookkeeping at the start of a guarded call, to undo what a failed attempt recorded."""

    events: int
    calls: dict[str, int]
    ops: dict[str, int]
    stack: int
    pending: int


class State:
    """Bookkeeping shared by the hooks, the two modes and the guards during one pass."""

    def __init__(self, paths: dict[int, str], mapped: set[str], facts: FactsFn | None = None) -> None:
        self.paths = paths
        self.mapped = mapped
        self.facts = facts
        self.modules: list[torch.nn.Module] = []
        """The modules running now, innermost last (an operator's caller)."""
        self.stack: list[tuple[str | None, bool]] = []
        self.calls: dict[str, int] = {}
        self.ops: dict[str, int] = {}
        self.pending: list[Call | None] = []
        self.flattened: dict[int, tuple[torch.Tensor, Shape]] = {}
        self.suppress = 0
        self.device = "meta"
        """Where tensors created or moved inside forward go (cpu while a module runs for real)."""
        self.originals: dict[int, torch.Tensor] = {}
        """id of a model input on meta -> the tensor the user gave (a real run uses its values)."""
        self.failed: tuple[str, str] | None = None
        """(aten op, module call path) of the last operator that raised."""
        self.failed_error: BaseException | None = None
        """What it raised."""
        self.pause: RecorderPause | None = None
        self.stop: Stop | None = None
        self.trace = Trace()

    def inside_layer(self) -> bool:
        """A mapped module is running (every entry pushed inside one is marked too, so the top one tells)."""
        return bool(self.stack) and self.stack[-1][1]

    def owner(self) -> str:
        """The call path of the innermost recorded module running now ("" at the root)."""
        return next((p for p, _ in reversed(self.stack) if p is not None), "")

    def pre(self, module: torch.nn.Module, args: Any) -> None:
        path = self.paths.get(id(module))
        absorbed = self.inside_layer()
        call = None
        if path is not None and not absorbed:
            n = self.calls[path] = self.calls.get(path, 0) + 1
            call = Call(path, path if n == 1 else f"{path or '(root)'}#{n}")
            self.trace.events.append(call)
        self.pending.append(call)
        self.stack.append((call.path if call else None, absorbed or path in self.mapped))
        self.modules.append(module)
        if self.pause is not None:
            self.pause.follow(self.should_record())

    def post(self, module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        call = self.pending.pop() if self.pending else None
        if self.stack:
            self.stack.pop()
            self.modules.pop()
        if self.pause is not None:
            self.pause.follow(self.should_record())
        if call is None:
            return
        call.input_shapes = tensor_shapes((args, kwargs))
        call.output_shapes = tensor_shapes(output)
        if self.facts is not None:
            call.inputs, call.outputs = self.facts((args, kwargs)), self.facts(output)
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if first is not None and id(first) in self.flattened:
            call.flattened_from = self.flattened[id(first)][1]
        if isinstance(module, torch.nn.Flatten) and first is not None and isinstance(output, torch.Tensor):
            rank = len(first.shape)
            start, end = module.start_dim % max(rank, 1), module.end_dim % max(rank, 1)
            self.flattened[id(output)] = (output, shape_of(first)[start : end + 1])

    def record(self, kind: str, source: str, attrs: dict[str, Any], inputs: list[Shape], out: Any,
               tensors: Any = None) -> None:
        """An operator outside every layer: named after the innermost module that ran it.

        `tensors` are the operands `inputs` describes, for the facts of a memory pass."""
        owner = self.owner()
        prefix = f"{owner}/" if owner else ""
        n = self.ops[prefix + kind] = self.ops.get(prefix + kind, 0) + 1
        op = Op(f"{prefix}{kind}#{n}", kind, source, attrs, inputs, tensor_shapes(out)[:1])
        if self.facts is not None and tensors is not None:
            op.inputs, op.outputs = self.facts(tensors), self.facts(out)[:1]
        self.trace.events.append(op)

    def should_record(self) -> bool:
        return self.suppress == 0 and not self.inside_layer()

    def call_and_record(self, func: Any, args: Any, kwargs: dict[str, Any], kind: str, attrs: dict[str, Any],
                        operands: list[torch.Tensor], inputs: list[Shape] | None = None) -> Any:
        """Run `func` (recording nothing inside it: the aten ops it becomes are this record), then record it
        as one operator on `operands` (`inputs`: their shapes as the rule reads them, default the operands')."""
        self.suppress += 1
        if self.pause is not None:
            self.pause.follow(False)
        try:
            out = func(*args, **kwargs)
        finally:
            self.suppress -= 1
            if self.pause is not None:
                self.pause.follow(self.should_record())
        name = getattr(func, "__name__", attrs.get("op", kind))
        shapes = inputs if inputs is not None else [shape_of(t) for t in operands]
        self.record(kind, f"torch.{name}", attrs, shapes, out, operands)
        return out

    def op_failed(self, op: str, error: BaseException | None = None) -> None:
        self.failed, self.failed_error = (op, self.owner()), error

    def mark(self) -> _Mark:
        return _Mark(len(self.trace.events), dict(self.calls), dict(self.ops), len(self.stack), len(self.pending))

    def rollback(self, mark: _Mark) -> None:
        """Forget what a failed attempt recorded after `mark` (its module's own call stays)."""
        del self.trace.events[mark.events :]
        self.calls, self.ops = dict(mark.calls), dict(mark.ops)
        del self.stack[mark.stack :]
        del self.pending[mark.pending :]


def _on_pass_device(value: Any, state: State) -> Any:
    """Every tensor of a (nested) input on the pass's device: on meta without copying data (the user's
    tensors are remembered for a real run), on CPU with the user's values or random ones."""

    def move(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        if state.device != "meta":
            return real_tensor(x, {})
        moved = x.to("meta")
        if x.device.type != "meta":
            state.originals[id(moved)] = x
        return moved

    return pytree.tree_map(move, value)


@dataclass(frozen=True)
class PassMode:
    """How a memory pass differs from the plain one (see `adapters.torch_memory`)."""

    facts: FactsFn | None = None
    """Recorded for every call and operator."""
    extra_modes: tuple[Callable[[State], Any], ...] = ()
    """Its own operator recorders, each built on the pass's state."""
    grad: bool = False
    """Autograd on, as training runs."""


Guard = Callable[[torch.nn.Module, State], contextlib.AbstractContextManager[Any]]
"""(the audit's own copy, the pass's state) -> a context that wraps its modules' forwards (`torch_fallback`)."""


def run_pass(
    model: torch.nn.Module, mapped: set[str], args: tuple[Any, ...], kwargs: dict[str, Any], *,
    guard: Guard | None = None, device: str = "meta", mode: PassMode | None = None, pause: bool = False,
) -> Trace:
    """Run `model(*args, **kwargs)` once under the hooks and modes; `mapped` are the paths of layer modules.

    `guard` wraps every layer-level module's forward (on `model`, which must be the audit's own copy)
    with fallbacks; `device` "cpu" runs on CPU tensors (real ones, or fake ones under a memory pass's
    FakeTensorMode); `mode` adds a memory pass's facts, recorders and autograd.  `pause` (a pass with
    neither) takes the dispatch recorder off while nothing is recorded; the trace says when it must run again
    without (`Trace.unseen`)."""
    mode = mode or PassMode()
    paths = {id(m): path for path, m in model.named_modules()}
    state = State(paths, mapped, mode.facts)
    state.device = device
    hooks = [
        torch.nn.modules.module.register_module_forward_pre_hook(state.pre),
        torch.nn.modules.module.register_module_forward_hook(state.post, with_kwargs=True),
    ]
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(quiet_loggers("torch._subclasses.fake_tensor"))
            stack.enter_context(torch.enable_grad() if mode.grad else torch.no_grad())
            pass_args, pass_kwargs = _on_pass_device(args, state), _on_pass_device(kwargs, state)
            if guard is not None:
                stack.enter_context(guard(model, state))
            stack.enter_context(FunctionRecorder(state))
            for make_mode in mode.extra_modes:
                stack.enter_context(make_mode(state))
            recorder = stack.enter_context(DispatchRecorder(state))
            if pause and guard is None and not mode.extra_modes:
                state.pause = RecorderPause(recorder)
            try:
                model(*pass_args, **pass_kwargs)
            finally:
                if state.pause is not None:
                    state.pause.restore()
    except Exception as err:  # a model's forward can raise anything; the audit reports it as a note
        op, owner = state.failed or (None, state.owner())
        state.trace.stop = state.stop or Stop(owner, op, error_text(err))
        error: Exception | None = err
    else:
        error = None
    finally:
        for hook in hooks:
            hook.remove()
    state.trace.unseen = state.pause is not None and state.pause.unseen(error)
    return state.trace
