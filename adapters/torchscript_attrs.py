"""Which mapping a TorchScript submodule takes, and the torch.nn attributes its attrs function reads.

A script module keeps its class's qualified name (``__torch__.torch.nn.modules.conv.Conv2d``, mangled
when traced), so it is mapped through the same `torch_types` table as an nn.Module, by name and
without importing anything but torch.nn.  `torch.jit.script` keeps a module's constant and typed
attributes (`stride`, `kernel_size`, `num_heads` ...), so `torch_types`' attrs functions read them as
they read an nn.Module.  `torch.jit.trace` keeps parameters and a graph only: `ScriptView` then
recovers the attributes torch.nn would have from the module's parameters (a Linear's weight is
(out, in)) and from the constant arguments of the aten operators in its own forward graph, by
argument name (`max_pool2d(..., kernel_size, stride, ...)`).  Convolutions come from their
`aten::_convolution` arguments through the operator translator `torch_trace` already uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch

from adapters.torch_ops import conv_record
from adapters.torch_types import MODULE_KINDS, MODULE_TYPES, Mapping, qualified_name
from adapters.torchscript_graph import UNKNOWN, constant_value
from auditor.ir import Shape

_MANGLE = re.compile(r"\.___torch_mangle_\d+")


def type_name(module: Any) -> str:
    """The Python class a script module was compiled from: torch.nn.modules.conv.Conv2d."""
    name = module._c._type().qualified_name()
    return _MANGLE.sub("", name).removeprefix("__torch__.")


def find_mapping(name: str, owns_tensors: bool) -> tuple[str, Mapping] | None:
    """(matched class name, mapping) for a class name: `torch_types`' registry, following torch.nn's MRO."""
    found = MODULE_TYPES.get(name)
    if found is not None:
        return name, found
    module_name, _, cls_name = name.rpartition(".")
    if module_name in MODULE_KINDS and not owns_tensors:
        return name, MODULE_KINDS[module_name]
    if not module_name.startswith("torch.nn."):
        return None
    cls = getattr(__import__(module_name, fromlist=[cls_name]), cls_name, None)
    for base in getattr(cls, "__mro__", ()):
        found = MODULE_TYPES.get(qualified_name(base))
        if found is not None:
            return qualified_name(base), found
    return None


# ---- a traced module's attributes, recovered ----------------------------------------------------


_ARGUMENT_ALIASES = {"has_biases": "bias", "num_head": "num_heads", "pad": "padding"}
"""aten argument name -> the torch.nn attribute it carries, where the two differ."""


def graph_constants(module: Any) -> tuple[dict[str, Any], list[Any]]:
    """(constant aten arguments by name, aten nodes) of the module's own inlined forward graph."""
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError):
        return {}, []
    found: dict[str, Any] = {}
    nodes = [n for n in graph.nodes() if n.kind().startswith("aten::")]
    for node in nodes:
        try:
            arguments = torch._C.parse_schema(node.schema()).arguments
        except RuntimeError:
            continue
        for argument, value in zip(arguments, node.inputs()):
            constant = constant_value(value)
            if constant is not UNKNOWN:
                found.setdefault(_ARGUMENT_ALIASES.get(argument.name, argument.name), constant)
    return found, nodes


def _shapes(module: Any) -> dict[str, tuple[int, ...]]:
    tensors = [*module.named_parameters(recurse=True), *module.named_buffers(recurse=True)]
    return {name: tuple(int(d) for d in t.shape) for name, t in tensors}


def _channels(shape: Shape | None) -> int | None:
    return shape[1] if shape and len(shape) > 1 and isinstance(shape[1], int) else None


def _rnn(module: Any, params: dict[str, tuple[int, ...]], ops: list[str], _shape: Shape | None) -> dict[str, Any]:
    """LSTM/GRU/RNN from their parameter names: weight_ih_l{k}[_reverse], weight_hr_l{k} (projections)."""
    layers = sum(1 for name in params if re.fullmatch(r"weight_ih_l\d+", name))
    relu = "aten::rnn_relu" in ops
    return {
        "mode": {"LSTM": "LSTM", "GRU": "GRU"}.get(module.original_name, "RNN_RELU" if relu else "RNN_TANH"),
        "input_size": params["weight_ih_l0"][1],
        "hidden_size": params["weight_hh_l0"][1] if "weight_hr_l0" not in params else params["weight_hr_l0"][1],
        "proj_size": params["weight_hr_l0"][0] if "weight_hr_l0" in params else 0,
        "num_layers": layers,
        "bidirectional": "weight_ih_l0_reverse" in params,
        "bias": "bias_ih_l0" in params,
    }


def _cell(module: Any, params: dict[str, tuple[int, ...]], ops: list[str], _shape: Shape | None) -> dict[str, Any]:
    return {"input_size": params["weight_ih"][1], "hidden_size": params["weight_hh"][1], "bias": "bias_ih" in params}


def _norm(module: Any, params: dict[str, tuple[int, ...]], ops: list[str], shape: Shape | None) -> dict[str, Any]:
    """BatchNorm / InstanceNorm / GroupNorm: width from the weight or statistics, else the input's channels."""
    width = next((params[n][0] for n in ("weight", "running_mean") if n in params), _channels(shape))
    return {"num_features": width, "num_channels": width, "affine": "weight" in params,
            "elementwise_affine": "weight" in params, "track_running_stats": "running_mean" in params}


def _attention(module: Any, params: dict[str, tuple[int, ...]], ops: list[str], _shape: Shape | None) -> dict[str, Any]:
    """MultiheadAttention's widths from its projections; num_heads only a fused kernel's constant can tell."""
    embed = params["out_proj.weight"][0]
    same = "in_proj_weight" in params
    widths = {"embed_dim": embed, "kdim": embed if same else params["k_proj_weight"][1],
              "vdim": embed if same else params["v_proj_weight"][1]}
    heads = graph_constants(module)[0].get("num_heads")
    return {**widths, "head_dim": embed // heads} if isinstance(heads, int) and heads > 0 else widths


_FROM_PARAMS: dict[str, Callable[[Any, dict[str, tuple[int, ...]], list[str], Shape | None], dict[str, Any]]] = {
    "Linear": lambda m, p, ops, s: {"in_features": p["weight"][1], "out_features": p["weight"][0]},
    "Conv1D": lambda m, p, ops, s: {"nx": p["weight"][0], "nf": p["weight"][1]},
    "Embedding": lambda m, p, ops, s: {"num_embeddings": p["weight"][0], "embedding_dim": p["weight"][1]},
    "PReLU": lambda m, p, ops, s: {"num_parameters": p["weight"][0]},
    "RNNBase": _rnn,
    "LSTMCell": _cell,
    "GRUCell": _cell,
    "RNNCell": _cell,
    "_BatchNorm": _norm,
    "_InstanceNorm": _norm,
    "GroupNorm": _norm,
    "LayerNorm": _norm,
    "RMSNorm": _norm,
    "MultiheadAttention": _attention,
}
"""Matched class -> the torch.nn attributes its parameters determine (PyTorch's weight layouts)."""


class ScriptView:
    """A script module answering torch.nn attribute names: its own attribute when TorchScript kept it
    (scripted), else one recovered from its parameters and its forward graph's constants (traced)."""

    def __init__(self, module: Any, matched: str, shape: Shape | None) -> None:
        self._module = module
        self._matched = matched
        self._shape = shape
        self._found: dict[str, Any] | None = None

    def _recovered(self) -> dict[str, Any]:
        """Graph constants by argument name, then what the parameters say (computed on first need)."""
        if self._found is None:
            constants, nodes = graph_constants(self._module)
            self._found = dict(constants)
            derive = _FROM_PARAMS.get(self._matched.rpartition(".")[2])
            if derive is not None:
                try:
                    self._found.update(derive(self._module, _shapes(self._module), [n.kind() for n in nodes],
                                              self._shape))
                except (KeyError, IndexError):
                    pass
        return self._found

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._module, name)
        except AttributeError:
            pass
        value = self._recovered().get(name)
        if value is not None:
            return value
        if name in ("bias", "weight", "in_proj_bias", "bias_k", "bias_v"):
            return None  # a parameter the module does not have
        raise AttributeError(f"TorchScript kept no {name!r} for this {self._module.original_name} "
                             "(torch.jit.trace keeps weights and a graph only; torch.jit.script keeps attributes)")


_CONV_CLASSES = ("conv._ConvNd", "conv._ConvTransposeNd")


def traced_conv_attrs(module: Any) -> dict[str, Any] | None:
    """A traced conv's canonical attrs from its aten::_convolution arguments (the operator translator)."""
    _, nodes = graph_constants(module)
    node = next((n for n in nodes if n.kind() == "aten::_convolution"), None)
    weight = dict(module.named_parameters()).get("weight")
    if node is None or weight is None:
        return None
    args = [constant_value(v) for v in list(node.inputs())[:9]]
    if any(a is UNKNOWN for a in args[3:9]):
        return None
    meta = torch.empty(weight.shape, device="meta")
    bias = dict(module.named_parameters()).get("bias")
    return conv_record((meta, meta, bias, *args[3:9]))[1]


def layer_attrs(module: Any, matched: str, mapping: Mapping, shape: Shape | None) -> tuple[dict[str, Any], str | None]:
    """(canonical attrs, None) or ({}, why they could not be read)."""
    if matched.endswith(_CONV_CLASSES) and not hasattr(module, "kernel_size"):
        attrs = traced_conv_attrs(module)
        if attrs is None:
            return {}, "TorchScript kept neither the conv's attributes nor an aten::_convolution to read them from"
        return attrs, None
    try:
        return mapping.attrs(ScriptView(module, matched, shape), shape), None
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        return {}, f"attributes not recovered from TorchScript: {err}"
