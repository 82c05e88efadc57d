"""TorchScript (a `torch.jit.save` archive, or an in-memory `torch.jit.script` / `trace` module) into the IR.

A script module keeps its submodule tree, each submodule's original class name, its parameters and
(scripted) its constant attributes or (traced) a graph whose constants carry them.  Layers are chosen
exactly as for an nn.Module: submodules whose class has a `torch_types` mapping own their subtree;
other submodules owning tensors directly are `torch:<Class>` rows.  Attrs come from `torchscript_attrs`,
shapes and MACs from one pass of the forward graph on meta tensors (`torchscript_pass`), run only
when an input shape is given.  Archives are checked (`torchscript_archive`) and loaded on the meta
device: no weight is read into memory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from adapters.torch_events import Call, Op, Trace
from adapters.torch_types import Mapping
from adapters.torchscript_archive import check_archive
from adapters.torchscript_attrs import find_mapping, layer_attrs, type_name
from adapters.torchscript_graph import tensor_constants
from adapters.torchscript_pass import run_script_pass
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor, Shape
from auditor.options import AuditOptions, resolve

NO_SHAPES = "no input shape given: shapes, MACs and activation memory are unknown (give --input-shape, e.g. 1x3x224x224)"


@dataclass
class _Site:
    """A submodule that becomes a layer: mapped (owns its subtree) or owning tensors directly."""

    path: str
    module: Any
    matched: str | None = None
    mapping: Mapping | None = None


def read_torchscript(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """A `torch.jit.save` archive, checked first, loaded on the meta device (weights never read into memory)."""
    options = resolve(options, values)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    check_archive(path)
    notes: list[str] = []
    module = _load(path, "meta", notes)
    if (options.input_shapes is not None or options.example_inputs is not None) and tensor_constants(module):
        module = _load(path, "cpu", notes)  # shape arithmetic may read their values, which meta tensors lack
        notes.append("loaded on the CPU (tensor data read): its graph computes with tensor constants")
    ir = from_script_module(module, dataclasses.replace(options, source=options.source or path))
    ir.notes.extend(notes)
    return ir


def _load(path: str, device: str, notes: list[str]) -> Any:
    """torch.jit.load on `device` (the CPU when an operator run while loading has no meta kernel)."""
    try:
        try:
            return torch.jit.load(path, map_location=device)
        except NotImplementedError as err:  # loading ran an operator that has no meta kernel
            if device == "cpu":
                raise
            notes.append("loaded on the CPU (tensor data read): loading on the meta device needs "
                         + _first_words(err).split(":")[0])
            return torch.jit.load(path, map_location="cpu")
    except Exception as err:  # a damaged archive fails in many ways
        raise InputError(f"{path}: not a readable TorchScript archive ({type(err).__name__}: {_first_words(err)})") from None


def _first_words(err: Exception) -> str:
    return " ".join(str(err).split())[:160]


def from_script_module(module: Any, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """Translate a ScriptModule; shapes and MACs need `input_shapes` (or `example_inputs`, used for their shapes)."""
    from adapters.torch import _inputs  # the same inputs an nn.Module would get

    options = resolve(options, values)
    sites = _sites(module)
    notes = ["TorchScript: layers mapped by their original class names; attrs from the module's "
             "constants (scripted) or its graph's constant arguments (traced)"]
    args, _, input_shapes = _inputs(module, options)
    trace = Trace()
    if args is None:
        notes.append(NO_SHAPES)
    else:
        metas = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
        trace = run_script_pass(module, {p for p, s in sites.items() if s.mapping is not None}, metas)
        notes.append("shapes and MACs from one pass of the TorchScript graph on meta tensors (no weights read)")
        if trace.error:
            notes.append(f"the TorchScript pass stopped early, later layers have no shapes: {trace.error}")
    return ModelIR(
        name=options.name or module.original_name,
        framework="torch",
        source=options.source or "python object (TorchScript)",
        layers=_layers(module, sites, trace, notes),
        input_shapes=input_shapes,
        framework_total=sum(p.numel() for p in module.parameters()),
        notes=notes,
    )


def _owns_directly(module: Any) -> bool:
    return any(True for _ in module.named_parameters(recurse=False)) or any(
        True for _ in module.named_buffers(recurse=False))


def _sites(model: Any) -> dict[str, _Site]:
    """Path -> layer site, in module-tree order; descendants of a mapped module are absorbed."""
    sites: dict[str, _Site] = {}
    absorbed: list[str] = []
    for path, module in model.named_modules():
        if any(prefix == "" or path.startswith(prefix + ".") for prefix in absorbed):
            continue
        found = find_mapping(type_name(module), _owns_directly(module))
        if found is not None:
            sites[path] = _Site(path, module, *found)
            absorbed.append(path)
        elif _owns_directly(module):
            sites[path] = _Site(path, module)
    return sites


def _site_tensors(site: _Site) -> Iterator[tuple[str, torch.Tensor, bool]]:
    """(name, tensor, is_buffer) of what the site owns: its subtree when mapped, else its own."""
    recurse = site.mapping is not None
    for name, p in site.module.named_parameters(recurse=recurse, remove_duplicate=False):
        yield name, p, False
    for name, b in site.module.named_buffers(recurse=recurse, remove_duplicate=False):
        yield name, b, True


def _layer_params(site: _Site, owners: dict[int, tuple[str, Any]], path: str) -> list[ParamTensor]:
    """The site's tensors; one already seen at another layer is marked shared_with that layer.

    `owners` maps id(tensor) to (first owner, tensor): holding the tensor keeps the id from being reused."""
    params = []
    for name, tensor, is_buffer in _site_tensors(site):
        owner = owners.setdefault(id(tensor), (path, tensor))[0]
        params.append(ParamTensor(
            name=name,
            shape=tuple(int(d) for d in tensor.shape),
            trainable=bool(tensor.requires_grad) and not is_buffer,
            buffer=is_buffer,
            shared_with=None if owner == path else owner,
            dtype=str(tensor.dtype).removeprefix("torch."),
        ))
    return params


def _site_layer(model: Any, site: _Site, call: Call | None, owners: dict[int, tuple[str, Any]],
                notes: list[str]) -> Layer:
    path = (call.path if call else site.path) or model.original_name
    inputs: list[Shape] = list(call.input_shapes) if call else []
    attrs: dict[str, Any] = {}
    kind = f"torch:{site.module.original_name}"
    if site.mapping is not None and site.matched is not None:
        attrs, problem = layer_attrs(site.module, site.matched, site.mapping, inputs[0] if inputs else None)
        if problem is None:
            kind = site.mapping.kind
        else:  # the layer's rule cannot check it without its hyper-parameters: no rule, and say why
            notes.append(f"{path} ({site.mapping.kind}) is unverified: {problem}")
    return Layer(
        path=path,
        kind=kind,
        source_type=type_name(site.module),
        attrs=attrs,
        input_shapes=inputs,
        output_shapes=list(call.output_shapes) if call else [],
        params=_layer_params(site, owners, path),
    )


def _layers(model: Any, sites: dict[str, _Site], trace: Trace, notes: list[str]) -> list[Layer]:
    """Layers in execution order, then the sites the pass did not see run (in module-tree order)."""
    from adapters.torch_layers import op_layer

    owners: dict[int, tuple[str, Any]] = {}
    layers: list[Layer] = []
    called: set[str] = set()
    for event in trace.events:
        if isinstance(event, Op):
            layers.append(op_layer(event))  # the operator row an nn.Module audit would have
        elif event.module_path in sites:
            called.add(event.module_path)
            layers.append(_site_layer(model, sites[event.module_path], event, owners, notes))
    missed = [site for path, site in sites.items() if path not in called]
    shapes_expected = trace.events or trace.error
    if shapes_expected and missed and any(s.mapping is not None for s in missed):
        notes.append(f"{len(missed)} layer(s) have no shapes (not run by the pass): "
                     + ", ".join(s.path or model.original_name for s in missed[:5]) + (" ..." if len(missed) > 5 else ""))
    layers.extend(_site_layer(model, site, None, owners, notes) for site in missed)
    return layers
