"""PyTorch adapter: translate an nn.Module into the IR, allocating no weights (.pt2 files: `torch_export`).

Layers are the modules with a mapping in `torch_types` (their descendants belong to them), plus every
other module that owns parameters or buffers directly (kind ``torch:<Class>``, which no rule knows, so
it is reported unverified with its count).  Shapes and weight-free operators come from one forward
pass on a meta-device deep copy (`torch_trace`): the user's model is never run, moved or written to.
Tied parameters are listed at every layer that uses them and counted at the first (`shared_with`).
"""

from __future__ import annotations

from typing import Any

import torch

from adapters.torch_events import Trace, tensor_shapes
from adapters.torch_layers import layers, sites, state_tensors
from adapters.torch_pass import PassResult, materialise_lazy, memory_pass, shape_pass
from adapters.torch_structures import packed_elements, unwrap
from adapters.torch_types import DuplicateModuleError, register_module, unregister_module
from auditor.collector import collector_paused
from auditor.errors import InputError
from auditor.ir import ModelIR, Shape
from auditor.options import AuditOptions, resolve

__all__ = [
    "DuplicateModuleError",
    "from_module",
    "register_module",
    "unregister_module",
]


def from_module(module: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate `module` into the IR; shapes and MACs need `input_shapes` or `example_inputs`.

    `input_dtypes` is the dtype of the generated inputs (e.g. "int64" for token ids; default: the
    dtype of the model's first floating-point parameter).  With `memory` set, the pass runs as the
    memory budget needs it (`adapters.torch_memory`) and records tensor facts.  Automatic garbage
    collection is paused meanwhile (`auditor.collector`).
    """
    with collector_paused():
        return _from_module(module, resolve(options, values))


def _from_module(module: Any, options: AuditOptions) -> ModelIR:
    """`from_module` with its options resolved."""
    memory = options.memory_pass()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"expected a torch.nn.Module, got {type(module).__module__}.{type(module).__qualname__}")
    module, wrappers = unwrap(module)
    notes = [f"unwrapped {name}: the module it runs is audited" for name in wrappers]
    args, kwargs, input_shapes = _inputs(module, options)
    if _has_lazy(module):
        module = _materialised(module, args, kwargs)
        notes.append("lazy modules materialised on meta from the inputs (your model stays uninitialised)")
    found = sites(module)
    trace: Trace | None = None
    if args is None:
        result = PassResult(Trace(), ["no input_shape or example_inputs given: shapes and MACs were not computed"],
                            "no input_shape or example_inputs given")
    else:
        mapped = {path for path, site in found.items() if site.mapped}
        result = shape_pass(module, mapped, args, kwargs) if memory is None else memory_pass(
            module, mapped, args, kwargs, memory)
        trace = result.trace
    notes.extend(result.notes)
    packed = packed_elements(module)
    if packed:
        notes.append(f"quantized modules keep their weights packed outside parameters(): their {packed:,} "
                     "logical weight and bias elements are counted")
    return ModelIR(
        name=options.name or type(module).__name__,
        framework="torch",
        source=options.source or "python object",
        layers=layers(module, found, trace, notes),
        input_shapes=input_shapes,
        framework_total=sum(p.numel() for p in module.parameters()) + packed,
        notes=notes,
        tensors=state_tensors(module),
        shapes_missing=result.stopped,
        pass_info=memory if memory is not None and trace is not None and trace.events else None,
    )


# ---- the module tree ----------------------------------------------------------------------------


def _has_lazy(module: torch.nn.Module) -> bool:
    return any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in module.parameters())


def _materialised(module: torch.nn.Module, args: tuple[Any, ...] | None, kwargs: dict[str, Any]) -> torch.nn.Module:
    """Lazy modules take their sizes from the input: a meta copy runs once to materialise them."""
    if args is None:
        path = next(n for n, p in module.named_parameters() if isinstance(p, torch.nn.parameter.UninitializedParameter))
        raise InputError(
            f"parameter {path!r} is an uninitialised lazy parameter: give input_shape or example_inputs so its "
            "size can be inferred on the meta device"
        )
    try:
        return materialise_lazy(module, args, kwargs)
    except ValueError as err:
        raise InputError(str(err)) from None


# ---- the forward pass ---------------------------------------------------------------------------


def _as_dtype(name: str) -> torch.dtype:
    """The torch dtype an option names (already checked to be a dtype name by AuditOptions)."""
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise InputError(f"dtype {name!r} has no PyTorch equivalent; expected e.g. float32, float16, bfloat16, int64")
    return found


def _default_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _is_args_kwargs(value: Any) -> bool:
    """`(args, kwargs)`: positional inputs (a tuple or list) and keyword inputs (a dict), as torch.export takes them."""
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (tuple, list))
            and isinstance(value[1], dict))


def _inputs(
    model: torch.nn.Module, options: AuditOptions
) -> tuple[tuple[Any, ...] | None, dict[str, Any], list[Shape]]:
    """(positional inputs, keyword inputs, their shapes); inputs stay as given until moved to meta."""
    example_inputs = options.example_inputs
    if example_inputs is not None:
        args: tuple[Any, ...]
        if _is_args_kwargs(example_inputs):
            args, kwargs = tuple(example_inputs[0]), dict(example_inputs[1])
        elif isinstance(example_inputs, dict):
            args, kwargs = (), dict(example_inputs)
        elif isinstance(example_inputs, (tuple, list)):
            args, kwargs = tuple(example_inputs), {}
        else:
            args, kwargs = (example_inputs,), {}
        return args, kwargs, tensor_shapes((args, kwargs))
    if options.input_shapes is None:
        return None, {}, []
    shapes = list(options.input_shapes)
    default = _default_dtype(model)
    dtypes = [default if options.dtype_of(i) is None else _as_dtype(str(options.dtype_of(i))) for i in range(len(shapes))]
    return tuple(torch.empty(s, dtype=d, device="meta") for s, d in zip(shapes, dtypes)), {}, list(shapes)
