"""A script module's inlined forward graph, prepared to run on meta tensors, and read.

`torch.jit` keeps no Python hooks, so everything the shape pass needs is read off a copy of the
inlined forward graph: which module ran each node (its module hierarchy, resolved to a module path),
the values of constant arguments, whether it is safe to run (only torch's own operators, none that
touches files), and the operators outside layers that cost MACs (`op_event`, named and translated as
`torch_trace` records them for an nn.Module).  `detach_tensors` makes the copy weight-free: tensors
the graph reads from the module, tensor constants and device constants become meta inputs; SetAttr
and Print nodes go.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch

from adapters.torch_events import Op
from adapters.torch_ops import conv_record
from auditor.ir import Shape

ALLOWED_NAMESPACES = ("aten::", "prim::", "quantized::", "nn_auditor::")
FILE_OPERATORS = ("aten::save", "aten::from_file")


# ---- module hierarchy -> module path --------------------------------------------------------------


_STEP = re.compile(r"([^.()]+)\(([^()]*)\)")


class Hierarchy:
    """Resolves a node's module hierarchy ("encoder(BertEncoder).0(BertLayer)...") to a module path.

    The hierarchy names each called module by its attribute name and class only; ModuleList and
    ModuleDict are never called, so a step may name a child of one of them.  A step that matches
    no module, or several, leaves the node unattributed (None)."""

    def __init__(self, module: Any) -> None:
        self.kinds = {path: sub.original_name for path, sub in module.named_modules()}
        self.cache: dict[str, str | None] = {}

    def _children(self, path: str) -> list[str]:
        prefix = path + "." if path else ""
        found = []
        for child in self.kinds:
            rest = child[len(prefix):] if child.startswith(prefix) and child != path else None
            if rest and "." not in rest:
                found.append(child)
                if self.kinds[child] in ("ModuleList", "ModuleDict"):
                    found.extend(self._children(child))
        return found

    def path(self, hierarchy: str) -> str | None:
        if hierarchy not in self.cache:
            self.cache[hierarchy] = self._resolve(hierarchy)
        return self.cache[hierarchy]

    def _resolve(self, hierarchy: str) -> str | None:
        path = ""
        for name, cls in _STEP.findall(hierarchy):
            if name == "SELF":  # a method of the same module
                continue
            if name == "UNKNOWN_INSTANCE":  # a free function: the rest is not a module path
                break
            matches = [c for c in self._children(path) if c.rsplit(".", 1)[-1] == name and self.kinds[c] == cls]
            if len(matches) != 1:
                return None
            path = matches[0]
        return path


# ---- graph constants ------------------------------------------------------------------------------

UNKNOWN = object()
"""What `constant_value` returns for a value the graph computes at run time."""


def constant_value(value: Any) -> Any:
    """The value of a graph constant, or of a list built of constants; `UNKNOWN` otherwise."""
    node = value.node()
    if node.kind() == "prim::Constant":
        return value.toIValue()
    if node.kind() == "prim::ListConstruct":
        items = [constant_value(v) for v in node.inputs()]
        return UNKNOWN if any(i is UNKNOWN for i in items) else items
    return UNKNOWN


# ---- the graph copy that runs on meta ---------------------------------------------------------------


def walk(block: Any) -> list[Any]:
    """Every node of `block` and of its sub-blocks, in order."""
    nodes = []
    for node in block.nodes():
        nodes.append(node)
        for inner in node.blocks():
            nodes.extend(walk(inner))
    return nodes


def tensor_constants(module: Any) -> bool:
    """True when the module's forward graph holds tensor constants."""
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError):
        return False
    return any(n.kind() == "prim::Constant" and n.output().type().kind() == "TensorType" for n in walk(graph.block()))


def operator_problem(graph: Any) -> str | None:
    """Why the graph must not run: an operator outside torch's namespaces, one that touches files, a call
    inlining left opaque; else None."""
    for node in walk(graph.block()):
        kind = node.kind()
        if kind in FILE_OPERATORS:
            return f"it calls {kind}, which touches files"
        if not kind.startswith(ALLOWED_NAMESPACES):
            return f"it calls {kind}, an operator outside torch's own"
        if kind in ("prim::CallMethod", "prim::CallFunction", "prim::PythonOp"):
            return f"it keeps a {kind} that inlining could not open"
    return None


def _attribute_value(value: Any, self_value: Any, module: Any) -> Any:
    """What a GetAttr chain from the graph's `self` reads on `module`, or None when it is not such a chain."""
    names = []
    while value != self_value:
        node = value.node()
        if node.kind() != "prim::GetAttr":
            return None
        names.append(node.s("name"))
        value = node.input()
    target = module
    for name in reversed(names):
        target = getattr(target, name)
    return target


def _meta(value: Any, memo: dict[int, torch.Tensor]) -> Any:
    """A meta stand-in for a tensor (one per tensor, so tied tensors stay tied) or a list of tensors."""
    if isinstance(value, torch.Tensor):
        return memo.setdefault(id(value), torch.empty_like(value, device="meta"))
    if isinstance(value, (list, tuple)) and value and all(isinstance(t, torch.Tensor) for t in value):
        return [_meta(t, memo) for t in value]
    return None


_FROZEN_TYPES = r"(int|float|bool|str)|List\[(int|float|bool)\]|Tuple\[(int|float|bool)(, (int|float|bool))*\]"
"""Attribute types read once into constants, so operator arguments such as a stride read from `self` are known."""


def _replace_by_constant(graph: Any, node: Any, value: Any) -> None:
    graph.setInsertPoint(node)
    node.output().replaceAllUsesWith(graph.insertConstant(value))
    graph.setInsertPoint(graph.block())
    node.destroy()


def detach_tensors(graph: Any, module: Any) -> tuple[list[Any], set[Any]]:
    """Turn every tensor the graph reads from the module, and every tensor constant, into a graph input fed
    with a meta stand-in; scalar attributes become constants, device constants say meta; drop SetAttr and
    Print.  (stand-ins, the new inputs)."""
    memo: dict[int, torch.Tensor] = {}
    self_value = next(graph.inputs())
    stand_ins: list[Any] = []
    weights: set[Any] = set()
    for node in walk(graph.block()):
        kind = node.kind()
        if kind in ("prim::SetAttr", "prim::Print", "aten::_print"):
            node.destroy()
            continue
        if kind == "prim::GetAttr":
            target = _attribute_value(node.output(), self_value, module)
            if re.fullmatch(_FROZEN_TYPES, str(node.output().type())):  # a hyper-parameter: read it once
                _replace_by_constant(graph, node, target)
                continue
            stand_in = _meta(target, memo)
        elif kind == "prim::Constant" and node.output().type().kind() == "TensorType":
            constant = node.output().toIValue()  # a 0-dim one stays: shape arithmetic reads its value
            stand_in = _meta(constant, memo) if isinstance(constant, torch.Tensor) and constant.dim() > 0 else None
        elif kind == "prim::Constant" and node.output().type().kind() == "DeviceObjType":
            _replace_by_constant(graph, node, torch.device("meta"))
            continue
        else:
            continue
        if stand_in is None:
            continue
        value = graph.addInput()
        value.setType(node.output().type())
        node.output().replaceAllUsesWith(value)
        node.destroy()
        stand_ins.append(stand_in)
        weights.add(value)
    return stand_ins, weights


# ---- operators outside layers -------------------------------------------------------------------


def _operands(*indices: int) -> Callable[[list[Shape]], list[Shape]]:
    return lambda shapes: [shapes[i] for i in indices if i < len(shapes)]


def _linear_operands(shapes: list[Shape]) -> list[Shape]:
    """F.linear(x, weight (out, in)) is the product x @ weightᵀ."""
    return [shapes[0], tuple(reversed(shapes[1]))] if len(shapes) > 1 else []


_OPS: dict[str, tuple[str, Callable[[list[Shape]], list[Shape]]]] = {
    "aten::matmul": ("matmul", _operands(0, 1)), "aten::mm": ("matmul", _operands(0, 1)),
    "aten::bmm": ("matmul", _operands(0, 1)), "aten::mv": ("matmul", _operands(0, 1)),
    "aten::dot": ("matmul", _operands(0, 1)), "aten::addmm": ("matmul", _operands(1, 2)),
    "aten::baddbmm": ("matmul", _operands(1, 2)), "aten::linear": ("matmul", _linear_operands),
    "aten::scaled_dot_product_attention": ("sdpa", _operands(0, 1, 2)),
}
"""Weight-free aten operators with MACs -> (kind, the operand shapes its rule takes)."""

_CONVS = ("aten::_convolution", "aten::conv1d", "aten::conv2d", "aten::conv3d")


def records_macs(node: Any) -> bool:
    """An operator that costs MACs outside a layer (matmul, attention, convolution, linear)."""
    return node.kind() in _OPS or node.kind() in _CONVS


def op_event(node: Any, owner: str, inputs: list[Shape], outputs: list[Shape], count: dict[str, int]) -> Op | None:
    """An operator outside every layer, named `owner/kind#n` as torch_trace names them (None: unreadable)."""
    name = node.kind().removeprefix("aten::")
    if node.kind() in _OPS:
        kind, operands = _OPS[node.kind()]
        attrs: dict[str, Any] = {"op": name}
        shapes = operands(inputs)
    else:
        conv = _conv_args(node, inputs)
        if conv is None:
            return None
        kind, attrs, shapes = conv
    prefix = f"{owner}/" if owner else ""
    n = count[prefix + kind] = count.get(prefix + kind, 0) + 1
    return Op(f"{prefix}{kind}#{n}", kind, f"torch.jit:{node.kind()}", attrs, shapes, outputs[:1])


def _conv_args(node: Any, inputs: list[Shape]) -> tuple[str, dict[str, Any], list[Shape]] | None:
    """A functional convolution's kind, canonical attrs and [x, weight] shapes, from its constant arguments."""
    values = [constant_value(v) for v in node.inputs()]
    if len(inputs) < 2:
        return None
    if node.kind() == "aten::_convolution":
        stride, padding, dilation, transposed, output_padding, groups = values[3:9]
    else:  # aten::conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups)
        stride, padding, dilation, groups = values[3:7]
        transposed, output_padding = False, [0] * (len(inputs[1]) - 2)
    if any(v is UNKNOWN or v is None or isinstance(v, str) for v in (stride, padding, dilation, groups)):
        return None
    if not all(isinstance(d, int) for shape in inputs[:2] for d in shape):
        return None
    x, w = (torch.empty([int(d) for d in s], device="meta") for s in inputs[:2])
    bias = None if node.inputsAt(2).type().kind() == "NoneType" else w
    return conv_record((x, w, bias, stride, padding, dilation, transposed, output_padding, groups))
