"""A `torch.export` archive (.pt2) into the IR: one layer per module the graph recorded.

`read_exported_program` loads the archive with every embedded pickle restricted to plain tensors;
`from_exported_program` translates the loaded program.

Each graph node carries the stack of modules it ran in (`nn_module_stack`: path and class name), so
nodes are grouped at their innermost module with a mapping; attrs come from the aten op arguments
(the classes themselves are not imported: that would run the user's code).  Parameters and buffers are
listed by their fully qualified names at the layer whose path prefixes them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from adapters.quiet import quiet_loggers
from adapters.torch_ops import ATEN_MAC_OPS
from adapters.torch_types import BUILTIN, Mapping
from auditor.errors import InputError
from auditor.ir import Layer, ModelIR, ParamTensor, Shape
from auditor.options import AuditOptions, resolve


@dataclass
class _Group:
    path: str
    type_name: str
    nodes: list[Any] = field(default_factory=list)


def _mapping(type_name: str) -> Mapping | None:
    """The built-in mapping of a recorded class name, following torch.nn base classes."""
    if type_name in BUILTIN:
        return BUILTIN[type_name]
    if not type_name.startswith("torch.nn."):
        return None
    module_name, _, cls_name = type_name.rpartition(".")
    cls = getattr(__import__(module_name, fromlist=[cls_name]), cls_name, None)
    for base in getattr(cls, "__mro__", ()):
        found = BUILTIN.get(f"{base.__module__}.{base.__qualname__}")
        if found is not None:
            return found
    return None


def _type_name(value: Any) -> str:
    return value if isinstance(value, str) else f"{value.__module__}.{value.__qualname__}"


def _groups(program: Any) -> list[_Group]:
    """Call nodes grouped at the outermost mapped module on their stack (else the innermost module)."""
    groups: dict[str, _Group] = {}
    for node in program.graph.nodes:
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        if node.op != "call_function" or not stack:
            continue
        chosen = next(((p, t) for p, t in stack if _mapping(_type_name(t))), stack[-1])
        path, type_name = chosen[0], _type_name(chosen[1])
        groups.setdefault(path, _Group(path, type_name)).nodes.append(node)
    return list(groups.values())


def _shape(node: Any) -> Shape | None:
    value = node.meta.get("val") if hasattr(node, "meta") else None
    return tuple(int(d) for d in value.shape) if isinstance(value, torch.Tensor) else None


def _arg(node: Any, index: int, default: Any) -> Any:
    return node.args[index] if len(node.args) > index else default


def _tuple(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),) * rank


def _conv_attrs(node: Any) -> dict[str, Any]:
    """aten.conv{1,2,3}d(x, w, b, stride, padding, dilation, groups), aten.conv_transpose{1,2,3}d."""
    weight = _shape(node.args[1]) or ()
    rank = len(weight) - 2
    transposed = "transpose" in node.target.__name__
    groups = int(_arg(node, 6, 1))
    padding = _arg(node, 4, 0)
    attrs: dict[str, Any] = {
        "in_channels": weight[0] if transposed else weight[1] * groups,
        "out_channels": weight[1] * groups if transposed else weight[0],
        "kernel_size": tuple(weight[2:]),
        "stride": _tuple(_arg(node, 3, 1), rank),
        "dilation": _tuple(_arg(node, 7 if transposed else 5, 1), rank),
        "padding": padding if padding == "valid" else [(p, p) for p in _tuple(padding, rank)],
        "groups": groups,
        "use_bias": _arg(node, 2, None) is not None,
        "layout": "channels_first",
    }
    if transposed:
        attrs["output_padding"] = _tuple(_arg(node, 5, 0), rank)
    return attrs


def _linear_attrs(node: Any) -> dict[str, Any]:
    weight = _shape(node.args[1]) or (0, 0)
    return {"in_features": weight[1], "out_features": weight[0], "use_bias": _arg(node, 2, None) is not None}


def _embedding_attrs(node: Any) -> dict[str, Any]:
    weight = _shape(node.args[0]) or (0, 0)
    return {"num_embeddings": weight[0], "embedding_dim": weight[1]}


def _layer_norm_attrs(node: Any) -> dict[str, Any]:
    return {"normalized_shape": tuple(node.args[1]), "scale": _arg(node, 2, None) is not None,
            "center": _arg(node, 3, None) is not None}


def _batch_norm_attrs(node: Any) -> dict[str, Any]:
    """aten.batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)."""
    x = _shape(node.args[0]) or (0, 0)
    stats = _arg(node, 3, None) is not None
    return {"num_features": x[1], "scale": _arg(node, 1, None) is not None, "center": _arg(node, 2, None) is not None,
            "stats": "buffers" if stats else "none", "layout": "channels_first"}


def _flatten_attrs(node: Any) -> dict[str, Any]:
    return {"start_axis": int(_arg(node, 1, 0)), "end_axis": int(_arg(node, 2, -1))}


_ATTRS: dict[str, tuple[tuple[str, ...], Callable[[Any], dict[str, Any]]]] = {
    "conv": (("conv1d", "conv2d", "conv3d"), _conv_attrs),
    "conv_transpose": (("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"), _conv_attrs),
    "dense": (("linear",), _linear_attrs),
    "embedding": (("embedding",), _embedding_attrs),
    "layer_norm": (("layer_norm",), _layer_norm_attrs),
    "batch_norm": (("batch_norm",), _batch_norm_attrs),
    "flatten": (("flatten",), _flatten_attrs),
}
"""kind -> (aten ops that carry its hyper-parameters, translator); other kinds keep empty attrs."""


def _attrs(kind: str, group: _Group) -> dict[str, Any]:
    ops, translate = _ATTRS.get(kind, ((), None))
    for node in group.nodes:
        name = getattr(node.target, "__name__", "").split(".")[0]
        if translate is not None and name in ops:
            return translate(node)
    return {}


def _tensors(program: Any) -> dict[str, tuple[torch.Tensor, bool, bool]]:
    """FQN -> (tensor, is_buffer, trainable) for every parameter and buffer of the program."""
    out: dict[str, tuple[torch.Tensor, bool, bool]] = {}
    signature = program.graph_signature
    for fqn in signature.inputs_to_parameters.values():
        tensor = program.state_dict[fqn]
        out[fqn] = (tensor, False, bool(getattr(tensor, "requires_grad", True)))
    for fqn in signature.inputs_to_buffers.values():
        tensor = program.state_dict.get(fqn, program.constants.get(fqn))
        if isinstance(tensor, torch.Tensor):
            out[fqn] = (tensor, True, False)
    return out


def _owner(fqn: str, paths: list[str]) -> str:
    """The longest layer path prefixing `fqn`, else the tensor's own module path."""
    best = max((p for p in paths if fqn.startswith(p + ".")), key=len, default=None)
    return best if best is not None else fqn.rpartition(".")[0]


def from_exported_program(program: Any, path: str, options: AuditOptions | None = None) -> ModelIR:
    """Translate a loaded ExportedProgram; shapes come from the example inputs it was exported with."""
    options = options or AuditOptions()
    groups = _groups(program)
    tensors = _tensors(program)
    paths = [g.path for g in groups]
    owned: dict[str, list[ParamTensor]] = {}
    for fqn, (tensor, is_buffer, trainable) in tensors.items():
        owner = _owner(fqn, paths)
        owned.setdefault(owner, []).append(
            ParamTensor(fqn[len(owner) + 1 :] if owner else fqn, tuple(int(d) for d in tensor.shape),
                        trainable and not is_buffer, is_buffer, None, str(tensor.dtype).removeprefix("torch."))
        )
    layers, glue = [], []
    for group in groups:
        mapping = _mapping(group.type_name)
        if mapping is None and group.path not in owned and not _has_mac_op(group):
            glue.append(group)  # relu / pooling / flatten called in a container's forward: no layer of its own
            continue
        kind = mapping.kind if mapping else f"torch:{group.type_name.rpartition('.')[2]}"
        attrs = _attrs(kind, group) if mapping else {}
        if kind == "batch_norm":
            attrs["tracks_batches"] = f"{group.path}.num_batches_tracked" in tensors
        first = next((s for s in (_shape(a) for a in group.nodes[0].args if hasattr(a, "meta")) if s), None)
        last = _shape(group.nodes[-1])
        layers.append(Layer(group.path or "(root)", kind, group.type_name, attrs,
                            [first] if first else [], [last] if last else [], owned.pop(group.path, [])))
    for owner, params in owned.items():  # tensors of modules that ran no op of their own
        layers.append(Layer(owner or "(root)", "torch:parameters", "torch.export", {}, [], [], params))
    user_inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    return ModelIR(
        name=options.name or path.rsplit("/", 1)[-1],
        framework="torch",
        source=options.source or path,
        layers=layers,
        input_shapes=[s for s in (_shape(n) for n in user_inputs) if s is not None],
        framework_total=sum(t.numel() for t, is_buffer, _ in tensors.values() if not is_buffer),
        notes=["torch.export archive: layers grouped by the module stack the exporter recorded; "
               "attrs read from the aten operators", *_glue_note(glue), *_shape_note(options, user_inputs)],
    )


def _has_mac_op(group: _Group) -> bool:
    """The group runs a matrix product, convolution or attention (MACs no mapping accounts for)."""
    return any(_op_name(node) in ATEN_MAC_OPS for node in group.nodes)


def _op_name(node: Any) -> str:
    return str(getattr(node.target, "__name__", "")).split(".")[0]


def _glue_note(glue: list[_Group]) -> list[str]:
    """Which weight-free operators were called directly in a forward (counted as no layer, as for an nn.Module)."""
    if not glue:
        return []
    ops = sorted({_op_name(n) for g in glue for n in g.nodes})
    owners = ", ".join(sorted({g.type_name.rpartition(".")[2] for g in glue}))
    return [f"weight-free operators called in {owners}.forward ({', '.join(ops)}) carry no parameters and no "
            "counted MACs, so they are not listed as layers (as for the same nn.Module)"]


def _shape_note(options: AuditOptions, user_inputs: list[Any]) -> list[str]:
    """--input-shape cannot change an exported program: its shapes were fixed when it was exported."""
    exported = [s for s in (_shape(n) for n in user_inputs) if s is not None]
    wanted = list(options.input_shapes or ())
    if not wanted or wanted == exported:
        return []
    shown = ";".join("x".join(map(str, s)) for s in exported) or "none recorded"
    return [f"--input-shape not used: a torch.export archive keeps the input shapes it was exported with ({shown}); "
            "export again with the shape you want (or dynamic_shapes=...)"]


# ---- reading a .pt2 file -------------------------------------------------------------------------


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
        with _weights_only_loads(), quiet_loggers("torch.export"):
            program = torch.export.load(path)
    except Exception as err:  # unpickling refused, wrong format, damaged archive
        raise InputError(f"{path}: not a loadable torch.export archive ({type(err).__name__}: {err})"[:300]) from None
    return from_exported_program(program, path, options)
