"""One forward pass on the meta device that records what module hooks and operators saw.

Module calls come from global forward hooks (nothing is registered on the user's modules); weight-free
matrix products and attention inside non-layer modules come from a function mode (torch.matmul, `@`,
F.scaled_dot_product_attention, with the shapes the user wrote) and a dispatch mode (aten mm, bmm,
addmm, baddbmm, convolution, fused attention kernels).  Operators that run inside a module with a
mapping are not recorded: that module's rule already counts them.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from auditor.ir import Shape, TensorFact

FactsFn = Callable[[Any], list[TensorFact]]
"""(nested value) -> one TensorFact per tensor leaf, in `tensor_shapes` order (memory passes only)."""


@dataclass
class Call:
    """One call of a known module: its path (``path#n`` for the n-th call) and the shapes it saw."""

    module_path: str
    path: str
    input_shapes: list[Shape] = field(default_factory=list)
    output_shapes: list[Shape] = field(default_factory=list)
    flattened_from: Shape | None = None
    inputs: list[TensorFact] = field(default_factory=list)
    outputs: list[TensorFact] = field(default_factory=list)


@dataclass
class Op:
    """One weight-free operator recorded at the innermost module that ran it."""

    path: str
    kind: str
    source_type: str
    attrs: dict[str, Any]
    input_shapes: list[Shape]
    output_shapes: list[Shape]
    inputs: list[TensorFact] = field(default_factory=list)
    outputs: list[TensorFact] = field(default_factory=list)


@dataclass
class Trace:
    """What one pass saw, in execution order, and why it stopped early (if it did)."""

    events: list[Call | Op] = field(default_factory=list)
    error: str | None = None


def shape_of(t: torch.Tensor) -> Shape:
    return tuple(int(d) for d in t.shape)


def tensor_shapes(value: Any) -> list[Shape]:
    """Shapes of every tensor in a (nested) value, in order."""
    return [shape_of(x) for x in pytree.tree_leaves(value) if isinstance(x, torch.Tensor)]


def meta_copy(module: torch.nn.Module, convert: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.nn.Module:
    """A deep copy of `module` whose tensors are all on meta: no weight is copied or allocated.

    `convert` turns each meta tensor into the copy's own (a memory pass makes fake CPU tensors)."""
    make = convert or (lambda t: t)
    memo: dict[int, Any] = {}
    for sub in module.modules():
        for p in sub._parameters.values():
            if p is not None and id(p) not in memo:
                memo[id(p)] = torch.nn.Parameter(make(torch.empty_like(p, device="meta")), p.requires_grad)
        for value in list(sub._buffers.values()) + list(vars(sub).values()):
            if isinstance(value, torch.Tensor) and id(value) not in memo:
                memo[id(value)] = make(torch.empty_like(value, device="meta"))
    return copy.deepcopy(module, memo)


def to_meta(value: Any) -> Any:
    """Every tensor of a (nested) input on meta, without copying data."""
    return pytree.tree_map(lambda x: x.to("meta") if isinstance(x, torch.Tensor) else x, value)


class _State:
    """Bookkeeping shared by the hooks and the two modes during one pass."""

    def __init__(self, paths: dict[int, str], mapped: set[str], facts: FactsFn | None = None) -> None:
        self.paths = paths
        self.mapped = mapped
        self.facts = facts
        self.modules: list[torch.nn.Module] = []
        self.stack: list[tuple[str | None, bool]] = []
        self.calls: dict[str, int] = {}
        self.ops: dict[str, int] = {}
        self.pending: list[Call | None] = []
        self.flattened: dict[int, tuple[torch.Tensor, Shape]] = {}
        self.suppress = 0
        self.trace = Trace()

    def inside_layer(self) -> bool:
        return any(mapped for _, mapped in self.stack)

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

    def post(self, module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        call = self.pending.pop() if self.pending else None
        if self.stack:
            self.stack.pop()
            self.modules.pop()
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
        owner = next((p for p, _ in reversed(self.stack) if p is not None), "")
        prefix = f"{owner}/" if owner else ""
        n = self.ops[prefix + kind] = self.ops.get(prefix + kind, 0) + 1
        outputs = tensor_shapes(out)[:1]
        op = Op(f"{prefix}{kind}#{n}", kind, source, attrs, inputs, outputs)
        if self.facts is not None and tensors is not None:
            op.inputs, op.outputs = self.facts(tensors), self.facts(out)[:1]
        self.trace.events.append(op)

    def should_record(self) -> bool:
        return self.suppress == 0 and not self.inside_layer()

    def call_and_record(self, func: Any, args: Any, kwargs: dict[str, Any], kind: str, attrs: dict[str, Any],
                        operands: list[torch.Tensor]) -> Any:
        """Run `func` (recording nothing inside it), then record it as one operator on `operands`."""
        self.suppress += 1
        try:
            out = func(*args, **kwargs)
        finally:
            self.suppress -= 1
        name = getattr(func, "__name__", attrs.get("op", kind))
        self.record(kind, f"torch.{name}", attrs, [shape_of(t) for t in operands], out, operands)
        return out


_SDPA_FUNCTIONS = (F.scaled_dot_product_attention,)
_MATMUL_FUNCTIONS = (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__)


class _FunctionRecorder(TorchFunctionMode):
    """torch.matmul / `@` / F.scaled_dot_product_attention with the operand shapes as written."""

    def __init__(self, state: _State) -> None:
        super().__init__()
        self.state = state

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        kind = "sdpa" if func in _SDPA_FUNCTIONS else "matmul" if func in _MATMUL_FUNCTIONS else None
        if kind is None or not self.state.should_record():
            return func(*args, **kwargs)
        operands = [a for a in args if isinstance(a, torch.Tensor)][:4]
        if func is torch.Tensor.__rmatmul__:
            operands.reverse()
        attrs: dict[str, Any] = {"op": getattr(func, "__name__", str(func))}
        if kind == "sdpa":
            attrs.update(sdpa_attrs(args, kwargs, self.state.modules[-1] if self.state.modules else None))
            if isinstance(kwargs.get("attn_mask"), torch.Tensor):
                operands.append(kwargs["attn_mask"])
        return self.state.call_and_record(func, args, kwargs, kind, attrs, operands)


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


def _operands(*indices: int) -> Callable[[tuple[Any, ...]], list[Shape]]:
    return lambda args: [shape_of(args[i]) for i in indices]


_ATEN_MATMUL = {"mm": (0, 1), "bmm": (0, 1), "addmm": (1, 2), "baddbmm": (1, 2), "mv": (0, 1), "dot": (0, 1)}
_ATEN_SDPA = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_attention_math",
)


ATEN_MAC_OPS = frozenset({*_ATEN_MATMUL, *_ATEN_SDPA, "convolution", "conv1d", "conv2d", "conv3d", "linear",
                          "matmul", "einsum", "scaled_dot_product_attention"})
"""aten operators with multiply-accumulates of their own (a graph that calls them outside a mapped module
has MACs no layer accounts for)."""


def _conv_op(args: tuple[Any, ...]) -> tuple[str, dict[str, Any], list[Shape]]:
    """aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    kernel = shape_of(w)[2:]
    in_channels = w.shape[0] if transposed else w.shape[1] * groups
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    attrs: dict[str, Any] = {
        "in_channels": int(in_channels),
        "out_channels": int(out_channels),
        "kernel_size": kernel,
        "stride": tuple(int(s) for s in stride),
        "dilation": tuple(int(d) for d in dilation),
        "padding": [(int(p), int(p)) for p in padding],
        "groups": int(groups),
        "use_bias": bias is not None,
        "layout": "channels_first",
    }
    if transposed:
        attrs["output_padding"] = tuple(int(p) for p in output_padding)
    return ("conv_transpose_op" if transposed else "conv_op"), attrs, [shape_of(x), shape_of(w)]


class _DispatchRecorder(TorchDispatchMode):
    """aten matrix products, convolutions and fused attention run outside every layer."""

    def __init__(self, state: _State) -> None:
        super().__init__()
        self.state = state

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if not self.state.should_record():
            return out
        name = func.overloadpacket.__name__
        if name in _ATEN_MATMUL:
            first, second = _ATEN_MATMUL[name]
            shapes = _operands(first, second)(args)
            self.state.record("matmul", f"aten.{name}", {"op": name}, shapes, out, [args[first], args[second]])
        elif name in _ATEN_SDPA:
            self.state.record("sdpa", f"aten.{name}", {"op": name}, _operands(0, 1, 2)(args), out, list(args[:3]))
        elif name == "convolution":
            kind, attrs, shapes = _conv_op(args)
            self.state.record(kind, "aten.convolution", attrs, shapes, out, [args[0], args[1]])
        return out


def fake_tensors() -> Any:
    """A mode in which the meta copy and its inputs are fake tensors: model code that asks `.item()`
    of a mask (transformers' packed-sequence and causal-mask checks) sees a traced value instead of
    failing on meta.  No memory is allocated either way."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


def run_pass(
    model: torch.nn.Module,
    mapped: set[str],
    call: Callable[[torch.nn.Module], Any],
    *,
    facts: FactsFn | None = None,
    extra_modes: tuple[Callable[[_State], TorchFunctionMode], ...] = (),
    grad: bool = False,
) -> Trace:
    """Run `call(model)` once under the hooks and modes; `mapped` are the paths of layer modules.

    A memory pass adds `facts` (recorded for every call and operator), its own operator recorders
    (`extra_modes`, each built on the pass's state) and autograd (`grad`), as training would run it."""
    paths = {id(m): path for path, m in model.named_modules()}
    state = _State(paths, mapped, facts)
    hooks = [
        torch.nn.modules.module.register_module_forward_pre_hook(state.pre),
        torch.nn.modules.module.register_module_forward_hook(state.post, with_kwargs=True),
    ]
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
            stack.enter_context(_FunctionRecorder(state))
            for make_mode in extra_modes:
                stack.enter_context(make_mode(state))
            stack.enter_context(_DispatchRecorder(state))
            call(model)
    except Exception as err:  # a model's forward can raise anything; the audit reports it as a note
        state.trace.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        for hook in hooks:
            hook.remove()
    return state.trace
