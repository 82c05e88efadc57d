"""PyTorch adapter: translate an nn.Module (or a .pt2 file) into the IR, allocating no weights.

Layers are the modules with a mapping in `torch_types` (their descendants belong to them), plus every
other module that owns parameters or buffers directly (kind ``torch:<Class>``, which no rule knows, so
it is reported unverified with its count).  Shapes and weight-free operators come from one forward
pass on a meta-device deep copy (`torch_trace`): the user's model is never run, moved or written to.
Tied parameters are listed at every layer that uses them and counted at the first (`shared_with`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from adapters.torch_trace import Call, Op, Trace, fake_tensors, meta_copy, run_pass, tensor_shapes, to_meta
from adapters.torch_types import DuplicateModuleError, lookup, register_module, unregister_module
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor, PassInfo, Shape
from auditor.options import AuditOptions, resolve

__all__ = [
    "DuplicateModuleError",
    "from_module",
    "read_exported_program",
    "register_module",
    "unregister_module",
]


@dataclass
class _Site:
    """A module that becomes a layer: mapped (owns its whole subtree) or owning tensors directly."""

    path: str
    module: torch.nn.Module
    mapped: bool


def from_module(module: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate `module` into the IR; shapes and MACs need `input_shapes` or `example_inputs`.

    `input_dtypes` is the dtype of the generated inputs (e.g. "int64" for token ids; default: the
    dtype of the model's first floating-point parameter).  With `memory` set, the pass runs as the
    memory budget needs it (`adapters.torch_memory`) and records tensor facts.
    """
    options = resolve(options, values)
    memory_pass = options.memory_pass()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"expected a torch.nn.Module, got {type(module).__module__}.{type(module).__qualname__}")
    _refuse_lazy(module)
    sites = _sites(module)
    notes: list[str] = []
    args, kwargs, input_shapes = _inputs(module, options)
    trace = Trace()
    if args is None:
        notes.append("no input_shape or example_inputs given: shapes and MACs were not computed")
    elif memory_pass is not None:
        trace = _memory_trace(module, sites, args, kwargs, notes, memory_pass)
    else:
        trace = _trace(module, sites, args, kwargs, notes)
    layers = _layers(module, sites, trace, notes)
    return ModelIR(
        name=options.name or type(module).__name__,
        framework="torch",
        source=options.source or "python object",
        layers=layers,
        input_shapes=input_shapes,
        framework_total=sum(p.numel() for p in module.parameters()),
        notes=notes,
        tensors=state_tensors(module),
        pass_info=memory_pass if memory_pass is not None and trace.events else None,
    )


def state_tensors(model: torch.nn.Module) -> dict[str, ParamTensor]:
    """Every parameter and buffer under its state-dict name; a tied second name is shared_with the module
    path of the first, a buffer registered with persistent=False is marked so (state_dict skips it)."""
    tensors: dict[str, ParamTensor] = {}
    first: dict[int, str] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        owned = [(leaf, t, False) for leaf, t in module._parameters.items()]
        owned += [(leaf, t, True) for leaf, t in module._buffers.items()]
        for leaf, tensor, is_buffer in owned:
            if tensor is None:
                continue
            name = f"{path}.{leaf}" if path else leaf
            owner = first.setdefault(id(tensor), name)
            tensors[name] = ParamTensor(
                name=name, shape=tuple(int(d) for d in tensor.shape),
                trainable=bool(tensor.requires_grad) and not is_buffer, buffer=is_buffer,
                shared_with=None if owner == name else owner.rpartition(".")[0],
                dtype=_dtype_name(tensor),
                persistent=not is_buffer or leaf not in module._non_persistent_buffers_set,
            )
    return tensors


# ---- the module tree ----------------------------------------------------------------------------


def _refuse_lazy(module: torch.nn.Module) -> None:
    for path, p in module.named_parameters():
        if isinstance(p, torch.nn.parameter.UninitializedParameter):
            raise InputError(
                f"parameter {path!r} is an uninitialised lazy parameter: run the model once on a real "
                "input (or give the layer explicit sizes) before auditing it"
            )


def _owns_directly(module: torch.nn.Module) -> bool:
    return any(t is not None for t in (*module._parameters.values(), *module._buffers.values()))


def _sites(model: torch.nn.Module) -> dict[str, _Site]:
    """Path -> layer site, in module-tree order; descendants of a mapped module are absorbed."""
    sites: dict[str, _Site] = {}
    absorbed: list[str] = []
    for path, module in model.named_modules():
        if any(path.startswith(prefix + ".") or prefix == "" for prefix in absorbed):
            continue
        if lookup(module) is not None:
            sites[path] = _Site(path, module, True)
            absorbed.append(path)
        elif _owns_directly(module):
            sites[path] = _Site(path, module, False)
    return sites


def _site_tensors(site: _Site) -> Iterator[tuple[str, torch.Tensor, bool]]:
    """(name, tensor, is_buffer) of what the site owns: its subtree when mapped, else its own."""
    recurse = site.mapped
    for name, p in site.module.named_parameters(recurse=recurse, remove_duplicate=False):
        yield name, p, False
    for name, b in site.module.named_buffers(recurse=recurse, remove_duplicate=False):
        yield name, b, True


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _layer_params(site: _Site, owners: dict[int, str], path: str) -> list[ParamTensor]:
    """The site's tensors; one already seen at another layer is marked shared_with that layer."""
    params = []
    for name, tensor, is_buffer in _site_tensors(site):
        owner = owners.setdefault(id(tensor), path)
        params.append(
            ParamTensor(
                name=name,
                shape=tuple(int(d) for d in tensor.shape),
                trainable=bool(tensor.requires_grad) and not is_buffer,
                buffer=is_buffer,
                shared_with=None if owner == path else owner,
                dtype=_dtype_name(tensor),
            )
        )
    return params


def _layer_path(path: str, model: torch.nn.Module) -> str:
    """The root module, when it is itself a layer, is named after its class."""
    return path or type(model).__name__


def _site_layer(model: torch.nn.Module, site: _Site, call: Call | None, owners: dict[int, str]) -> Layer:
    path = _layer_path(call.path if call else site.path, model)
    inputs = call.input_shapes if call else []
    mapping = lookup(site.module) if site.mapped else None
    kind = mapping.kind if mapping else f"torch:{type(site.module).__name__}"
    attrs = mapping.attrs(site.module, inputs[0] if inputs else None) if mapping else {}
    if call is not None and call.flattened_from is not None and kind == "dense":
        attrs["flattened_from"] = call.flattened_from
    return Layer(
        path=path,
        kind=kind,
        source_type=f"{type(site.module).__module__}.{type(site.module).__qualname__}",
        attrs=attrs,
        input_shapes=list(inputs),
        output_shapes=list(call.output_shapes) if call else [],
        params=_layer_params(site, owners, path),
        inputs=list(call.inputs) if call else [],
        outputs=list(call.outputs) if call else [],
    )


def _op_layer(op: Op) -> Layer:
    return Layer(op.path, op.kind, op.source_type, dict(op.attrs), list(op.input_shapes), list(op.output_shapes),
                 inputs=list(op.inputs), outputs=list(op.outputs))


def _layers(model: torch.nn.Module, sites: dict[str, _Site], trace: Trace, notes: list[str]) -> list[Layer]:
    """Layers in execution order, then the sites forward never called (in module-tree order)."""
    owners: dict[int, str] = {}
    layers: list[Layer] = []
    called: set[str] = set()
    for event in trace.events:
        if isinstance(event, Op):
            layers.append(_op_layer(event))
        elif event.module_path in sites:
            called.add(event.module_path)
            layers.append(_site_layer(model, sites[event.module_path], event, owners))
    missed = [site for path, site in sites.items() if path not in called]
    if trace.events and missed:
        notes.append(
            f"{len(missed)} layer(s) were not called by forward (no shapes): "
            + ", ".join(_layer_path(s.path, model) for s in missed[:5])
            + (" ..." if len(missed) > 5 else "")
        )
    layers.extend(_site_layer(model, site, None, owners) for site in missed)
    return layers


# ---- the forward pass ---------------------------------------------------------------------------


def _trace(
    model: torch.nn.Module, sites: dict[str, _Site], args: tuple[Any, ...], kwargs: dict[str, Any],
    notes: list[str],
) -> Trace:
    """One pass on a meta copy of the model; a failure becomes a note, never a traceback."""
    with fake_tensors():
        try:
            copy = meta_copy(model)
        except Exception as err:  # deepcopy runs arbitrary __deepcopy__ code of user classes
            notes.append(f"shapes not captured: the model cannot be copied to the meta device ({err})")
            return Trace()
        mapped = {path for path, site in sites.items() if site.mapped}
        trace = run_pass(copy, mapped, lambda m: m(*to_meta(args), **to_meta(kwargs)))
    notes.append("shapes and MACs from one forward pass on a meta-device copy (no weights allocated)")
    if trace.error:
        notes.append(f"forward pass stopped early, later layers have no shapes: {trace.error}")
    return trace


def _memory_trace(
    model: torch.nn.Module, sites: dict[str, _Site], args: tuple[Any, ...], kwargs: dict[str, Any],
    notes: list[str], request: PassInfo,
) -> Trace:
    """The pass a memory budget needs (see `adapters.torch_memory`); a failure becomes a note."""
    from adapters import torch_memory as memory

    mode = fake_tensors()
    try:
        copy = meta_copy(model, memory.fake_cpu(mode, memory.cast_dtype(request)))
    except Exception as err:  # deepcopy runs arbitrary __deepcopy__ code of user classes
        notes.append(f"shapes not captured: the model cannot be copied for the memory pass ({err})")
        return Trace()
    with mode:
        mapped = {path for path, site in sites.items() if site.mapped}
        fake_args, fake_kwargs = memory.fake_inputs((to_meta(args), to_meta(kwargs)), mode)
        with memory.running_as(copy, request):
            trace = run_pass(copy, mapped, lambda m: m(*fake_args, **fake_kwargs), facts=memory.FactRecorder(copy),
                             extra_modes=memory.MEMORY_MODES, grad=request.training)
    how = "training" if request.training else "inference"
    notes.append(f"shapes, MACs and tensor facts from one {how} pass on fake CPU tensors (no weights allocated)")
    if trace.error:
        notes.append(f"forward pass stopped early, later layers have no shapes: {trace.error}")
    return trace


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


def _inputs(
    model: torch.nn.Module, options: AuditOptions
) -> tuple[tuple[Any, ...] | None, dict[str, Any], list[Shape]]:
    """(positional inputs, keyword inputs, their shapes); inputs stay as given until moved to meta."""
    example_inputs = options.example_inputs
    if example_inputs is not None:
        args: tuple[Any, ...]
        if isinstance(example_inputs, dict):
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


# ---- files ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_logger(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise a library's logger to `level` inside the block: torch.export logs a full traceback before
    raising on a bad archive, transformers logs advice while building; our one-line output says what matters."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def _weights_only_loads() -> Iterator[None]:
    """Make every torch.load inside the block refuse pickled Python objects (weights_only=True)."""
    original = torch.load

    def safe_load(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = safe_load  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.load = original  # type: ignore[assignment]


def read_exported_program(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """A `torch.export.save` archive, read with every embedded pickle restricted to plain tensors.

    torch.export.load falls back to full unpickling for custom objects; that fallback is disabled
    here, so a .pt2 that needs it is refused instead of executing code.
    """
    options = resolve(options, values)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        with _weights_only_loads(), quiet_logger("torch.export"):
            program = torch.export.load(path)
    except Exception as err:  # unpickling refused, wrong format, damaged archive
        raise InputError(f"{path}: not a loadable torch.export archive ({type(err).__name__}: {err})"[:300]) from None
    from adapters.torch_export import from_exported_program

    return from_exported_program(program, path, options)
