"""The module tree of a PyTorch model as IR layers: which modules are layers and what each owns.

Layers are the modules with a mapping in `torch_types` (their descendants belong to them), plus every
other module that owns parameters or buffers directly (kind ``torch:<Class>``, which no rule knows, so
it is reported unverified with its count).  Tied parameters are listed at every layer that uses them
and counted at the first (`shared_with`).  Layers come in the order the shape pass called them; the
ones it never called follow in module-tree order, marked unused when the pass ran to the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from adapters.torch_events import Call, Op, Trace
from adapters.torch_structures import adapter_paths, packed_tensors, quant_state, reparametrizations
from adapters.torch_types import lookup
from auditor.ir import Layer, ParamTensor
from auditor.rules import RULES


@dataclass
class Site:
    """A module that becomes a layer: mapped (owns its whole subtree) or owning tensors directly."""

    path: str
    module: torch.nn.Module
    mapped: bool


def _owns_directly(module: torch.nn.Module) -> bool:
    return any(t is not None for t in (*module._parameters.values(), *module._buffers.values()))


def sites(model: torch.nn.Module) -> dict[str, Site]:
    """Path -> layer site, in module-tree order; descendants of a mapped module are absorbed."""
    found: dict[str, Site] = {}
    inside: set[str] = set()
    """Paths of mapped modules and of everything below them (named_modules lists a parent before its children)."""
    for path, module in model.named_modules():
        if path and path.rpartition(".")[0] in inside or "" in inside:
            inside.add(path)
            continue
        if lookup(module) is not None:
            found[path] = Site(path, module, True)
            inside.add(path)
        elif _owns_directly(module):
            found[path] = Site(path, module, False)
    return found


def _site_tensors(site: Site) -> Iterator[tuple[str, torch.Tensor, bool, bool]]:
    """(name, tensor, is_buffer, is_packed) of what the site owns: its subtree when mapped, else its own;
    a quantized module's packed weights by their logical tensors (made on each call: never tied)."""
    packed = packed_tensors(site.module) if site.mapped else None
    if packed is not None:
        yield from ((name, tensor, False, True) for name, tensor in packed)
        return
    recurse = site.mapped
    for name, p in site.module.named_parameters(recurse=recurse, remove_duplicate=False):
        yield name, p, False, False
    for name, b in site.module.named_buffers(recurse=recurse, remove_duplicate=False):
        yield name, b, True, False


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _layer_params(site: Site, owners: dict[int, str], path: str) -> list[ParamTensor]:
    """The site's tensors; one already seen at another layer is marked shared_with that layer."""
    params = []
    for name, tensor, is_buffer, packed in _site_tensors(site):
        owner = path if packed else owners.setdefault(id(tensor), path)
        params.append(
            ParamTensor(
                name=name,
                shape=tuple(int(d) for d in tensor.shape),
                trainable=bool(tensor.requires_grad) and not is_buffer and not packed,
                buffer=is_buffer,
                shared_with=None if owner == path else owner,
                dtype=_dtype_name(tensor),
                quant_state=is_buffer and quant_state(site.module, name),
            )
        )
    return params


def layer_path(path: str, model: torch.nn.Module) -> str:
    """The root module, when it is itself a layer, is named after its class."""
    return path or type(model).__name__


def _site_layer(
    model: torch.nn.Module, site: Site, call: Call | None, owners: dict[int, str], called: bool | None,
    adapter: str | None,
) -> Layer:
    path = layer_path(call.path if call else site.path, model)
    inputs = call.input_shapes if call else []
    mapping = lookup(site.module) if site.mapped else None
    kind = mapping.kind if mapping else f"torch:{type(site.module).__name__}"
    attrs = mapping.attrs(site.module, inputs[0] if inputs else None) if mapping else {}
    if call is not None and call.flattened_from is not None and getattr(RULES.get(kind), "reads_flattened", False):
        attrs["flattened_from"] = call.flattened_from
    reparametrized = reparametrizations(site.module) if mapping else ()
    if reparametrized:
        attrs["reparametrized"] = reparametrized
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
        called=called,
        adapter=adapter,
        ops_recorded=not site.mapped,
    )


def op_layer(op: Op) -> Layer:
    """The layer of one recorded operator (its MACs are its rule's; it owns no parameters)."""
    return Layer(op.path, op.kind, op.source_type, dict(op.attrs), list(op.input_shapes), list(op.output_shapes),
                 inputs=list(op.inputs), outputs=list(op.outputs), called=True)


def layers(model: torch.nn.Module, found: dict[str, Site], trace: Trace | None, notes: list[str]) -> list[Layer]:
    """Layers in execution order, then the sites forward never called (in module-tree order)."""
    owners: dict[int, str] = {}
    result: list[Layer] = []
    called: set[str] = set()
    adapters = adapter_paths(model)

    def adapter(path: str) -> str | None:
        return next((name for prefix, name in adapters.items() if path == prefix or path.startswith(prefix + ".")),
                    None) if adapters else None

    for event in trace.events if trace else []:
        if isinstance(event, Op):
            result.append(op_layer(event))
        elif event.module_path in found:
            called.add(event.module_path)
            site = found[event.module_path]
            result.append(_site_layer(model, site, event, owners, True, adapter(site.path)))
    missed = [site for path, site in found.items() if path not in called]
    complete = trace is not None and trace.stop is None
    if trace is not None and missed:
        names = ", ".join(layer_path(s.path, model) for s in missed[:5]) + (" ..." if len(missed) > 5 else "")
        notes.append(
            f"{len(missed)} layer(s) are unused: forward never called them (0 MACs): {names}" if complete
            else f"{len(missed)} layer(s) were not reached before the pass stopped (no shapes): {names}"
        )
    result.extend(_site_layer(model, site, None, owners, False if complete else None, adapter(site.path))
                  for site in missed)
    return result


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
