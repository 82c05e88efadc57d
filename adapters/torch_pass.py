"""The shape pass of a PyTorch model, and what it tells the user: a plain pass, then fake and guarded ones if needed.

The first pass runs on plain meta tensors, on the model itself when every tensor it holds is on the meta
device (nothing to copy; each module's attributes are put back as they were afterwards), else on a
meta-device copy (no weight is allocated, the user's model is never run or written to).  It runs the way
torch.export's non-strict tracing runs model code (`torch.compiler.is_compiling()` is true), so code that
reads values only outside tracing (transformers' mask checks) skips that read.  When it stops (a `.item()`
that meta tensors cannot answer), the pass runs again under FakeTensorMode, about three times slower per
op; when that stops too, a last pass runs with guards (`torch_fallback`).
Every outcome is said in the notes: which modules ran for real or took their rule's output shape, and
where and why a pass stopped (the op, the module, and how many layers it left without shapes).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from adapters.torch_copies import fresh_copy, kept_as_is, meta_copy, on_meta
from adapters.torch_events import Fallback, Stop, Trace, error_text
from adapters.torch_fallback import REAL_RUN_LIMIT, guards
from adapters.torch_structures import packed_elements
from adapters.torch_trace import PassMode, run_pass
from auditor.pass_facts import PassInfo

OP_HINTS = {
    "aten._local_scalar_dense": ".item() or a Python number read from a tensor",
    "aten.nonzero": "nonzero or a boolean mask: the output size depends on the values",
    "aten.masked_select": "a boolean mask: the output size depends on the values",
    "aten._pack_padded_sequence": "pack_padded_sequence: the sizes depend on the lengths' values",
    "aten.unique": "unique: the output size depends on the values",
    "aten._unique2": "unique: the output size depends on the values",
    "aten.repeat_interleave": "repeat_interleave with tensor repeats: the size depends on the values",
    "aten._grouped_mm": "grouped_mm: its meta kernel needs bfloat16 inputs",
}
"""Aten ops a meta pass cannot run -> what the user wrote and why it needs values."""


@dataclass
class PassResult:
    """The trace to build layers from, the notes for the user, and why shapes are missing (if they are)."""

    trace: Trace
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None


def _fake_tensors() -> Any:
    """Model code that asks `.item()` of a mask (transformers' packed-sequence and causal-mask checks)
    sees a traced value instead of failing on meta.  No memory is allocated either way."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


def shape_pass(model: torch.nn.Module, mapped: set[str], args: tuple[Any, ...], kwargs: dict[str, Any]) -> PassResult:
    """A plain meta pass on `model` itself when it is on the meta device (else on a meta copy); the fake-tensor
    passes if that stops; never raises."""
    own = on_meta(model)
    copy, why = (None, "") if own else _copy(model)
    if copy is None and not own:
        return _fake_pass(model, mapped, args, kwargs, f"the model could not be copied to plain meta tensors ({why})")
    trace, _ = _paused_pass(model, copy, mapped, args, kwargs, tracing)
    if trace.stop is None:
        return _finished(trace, [f"shapes and MACs from one forward pass on {_where(own)}"])
    return _fake_pass(model, mapped, args, kwargs, f"the pass on plain meta tensors stopped ({describe_stop(trace.stop)})")


def _where(own: bool) -> str:
    return "the model's own meta tensors (nothing copied or allocated)" if own else \
        "a meta-device copy (no weights allocated)"


def _fake_pass(model: torch.nn.Module, mapped: set[str], args: tuple[Any, ...], kwargs: dict[str, Any],
               plain: str) -> PassResult:
    """The passes after the plain one stopped or could not start (`plain` says which): FakeTensorMode on the
    model's own meta tensors or a copy made under it, then guards on a copy; a CPU copy when none can be made."""
    own = on_meta(model)
    with _fake_tensors():
        first: Stop | None = None
        if own:
            trace, _ = _paused_pass(model, None, mapped, args, kwargs)
            first = trace.stop
        copy, why = (None, "") if own and first is None else _copy(model)
        if copy is not None and not own:
            trace, copy = _paused_pass(model, copy, mapped, args, kwargs)
            first = trace.stop
        if copy is not None and first is not None:  # the guards wrap forwards: they need the audit's own copy
            trace = run_pass(copy, mapped, args, kwargs, guard=guards)
    if copy is None and (why or not own):
        return _real_pass(model, mapped, args, kwargs, why)
    notes = [f"shapes and MACs from one forward pass on {_where(own and copy is None)}, under FakeTensorMode: {plain}"]
    if first is not None:
        notes.append(f"the fake-tensor pass stopped ({describe_stop(first)}); a last pass ran with fallbacks")
    notes.extend(_fallback_notes(trace.fallbacks))
    return _finished(trace, notes)


def _paused_pass(
    model: torch.nn.Module, copy: torch.nn.Module | None, mapped: set[str], args: tuple[Any, ...],
    kwargs: dict[str, Any], context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> tuple[Trace, torch.nn.Module | None]:
    """(the trace, the copy it ran on) of a pass on `copy`, or on `model` itself (put back as it was after) when
    there is none, with the dispatch recorder off inside layers; when that pass would be reported otherwise
    with it on (`Trace.unseen`), once more with it on, on a fresh copy: the first may have changed its own."""
    for pause in (True, False):
        with kept_as_is(model) if copy is None else contextlib.nullcontext(), context():
            trace = run_pass(model if copy is None else copy, mapped, args, kwargs, pause=pause)
        if not trace.unseen:
            break
        if copy is not None:
            fresh, _ = _copy(model)
            if fresh is None:
                break
            copy = fresh
    return trace, copy


@contextlib.contextmanager
def tracing() -> Iterator[None]:
    """`torch.compiler.is_compiling()` is true inside: model code takes the path it takes under torch.export's
    non-strict tracing, which sets the same flag (value checks such as `if mask.all():` are skipped)."""
    import torch.compiler

    before = torch.compiler._is_compiling_flag
    torch.compiler._is_compiling_flag = True
    try:
        yield
    finally:
        torch.compiler._is_compiling_flag = before


def _copy(model: torch.nn.Module) -> tuple[torch.nn.Module | None, str]:
    """(a meta copy of `model`, "") or (None, why it cannot be copied)."""
    try:
        return meta_copy(model), ""
    except Exception as err:  # deepcopy runs arbitrary __deepcopy__ code of user classes
        return None, error_text(err)[:120]


def memory_pass(
    model: torch.nn.Module, mapped: set[str], args: tuple[Any, ...], kwargs: dict[str, Any], request: PassInfo
) -> PassResult:
    """The pass a memory budget needs (see `adapters.torch_memory`): fake CPU tensors, train or eval
    mode, tensor facts; tensors made inside forward go to (fake) CPU.  A failure becomes a note."""
    from adapters import torch_memory as memory

    mode = _fake_tensors()
    try:
        copy = meta_copy(model, memory.fake_cpu(mode, memory.cast_dtype(request)))
    except Exception as err:  # deepcopy runs arbitrary __deepcopy__ code of user classes
        reason = f"the model cannot be copied for the memory pass ({error_text(err)[:120]})"
        return _not_run(reason)
    pass_mode = PassMode(memory.FactRecorder(copy), memory.MEMORY_MODES, request.training)
    with mode, memory.running_as(copy, request):
        trace = run_pass(copy, mapped, args, kwargs, device="cpu", mode=pass_mode)
    how = "training" if request.training else "inference"
    notes = [f"shapes, MACs and tensor facts from one {how} pass on fake CPU tensors (no weights allocated)"]
    return _finished(trace, notes)


def _real_pass(
    model: torch.nn.Module, mapped: set[str], args: tuple[Any, ...], kwargs: dict[str, Any], why: str
) -> PassResult:
    """The pass on a fresh CPU copy, for a small model that cannot be copied to meta (quantized packing)."""
    size = sum(p.numel() for p in model.parameters()) + packed_elements(model)
    reason = f"the model cannot be copied to the meta device ({why})"
    if size > REAL_RUN_LIMIT:
        return _not_run(reason)
    try:
        real = fresh_copy(model)
    except Exception as err:  # deepcopy runs arbitrary __deepcopy__ code of user classes
        reason = f"the model cannot be copied ({error_text(err)[:200]})"
        return _not_run(reason)
    trace = run_pass(real, mapped, args, kwargs, device="cpu")
    notes = [f"{reason[0].upper()}{reason[1:]}: shapes and MACs from one pass on a CPU copy with fresh weights "
             "and your inputs' values (random where none were given)"]
    return _finished(trace, notes)


def materialise_lazy(model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.nn.Module:
    """A meta copy of `model` whose lazy modules took their sizes from one pass on these inputs.

    The user's model stays uninitialised.  ValueError names a lazy parameter the pass left unset."""
    copy = meta_copy(model)
    with tracing():  # as the shape pass runs: value checks that only run untraced are skipped here too
        trace = run_pass(copy, set(), args, kwargs)
    for path, p in copy.named_parameters():
        if isinstance(p, torch.nn.parameter.UninitializedParameter):
            stop = f" (the pass stopped {describe_stop(trace.stop)})" if trace.stop else ""
            raise ValueError(f"lazy parameter {path!r} was not materialised by a forward pass{stop}")
    return copy


def describe_stop(stop: Stop) -> str:
    """'in `enc` at aten.nonzero (nonzero or a boolean mask: ...): DynamicOutputShapeException: ...'."""
    where = f"in `{stop.module_path}`" if stop.module_path else "in the model's own forward"
    at = f" at {stop.op} ({OP_HINTS[stop.op]})" if stop.op in OP_HINTS else f" at {stop.op}" if stop.op else ""
    real = " (it fails on real tensors too)" if stop.confirmed else ""
    return f"{where}{at}: {stop.error}{real}"


def _fallback_notes(fallbacks: list[Fallback]) -> list[str]:
    """One note per (class, what was done): the first module's path and how many more."""
    groups: dict[tuple[str, str], list[Fallback]] = defaultdict(list)
    for fallback in fallbacks:
        groups[(fallback.class_name, fallback.how)].append(fallback)
    notes = []
    for (class_name, how), items in groups.items():
        first = items[0]
        more = f" and {len(items) - 1} more {class_name}" if len(items) > 1 else f" ({class_name})"
        done = ("ran on CPU with fresh weights and your inputs' values (random where none were given); the "
                "shapes after it hold for those values" if how == "real"
                else "took its output shape from its rule")
        notes.append(f"`{first.path or '(root)'}`{more} could not run on meta ({first.reason}): {done}")
    return notes


def _finished(trace: Trace, notes: list[str]) -> PassResult:
    """A pass's result: where it stopped (if it did) is a note and the reason later layers have no shapes."""
    stopped = None
    if trace.stop is not None:
        stopped = "forward pass stopped early " + describe_stop(trace.stop)
        notes.append(stopped + "; the layers after it have no shapes")
    return PassResult(trace, notes, stopped)


def _not_run(reason: str) -> PassResult:
    """A pass that could not start (the model cannot be copied): every layer lacks shapes for `reason`."""
    return PassResult(Trace(stop=Stop("", None, reason)), [f"shapes not captured: {reason}"], reason)
