"""A script module's inlined forward graph, prepared to run on meta tensors, and read.

`torch.jit` keeps no Python hooks, so everything the shape pass needs is read off a copy of the
inlined forward graph: which module ran each node (its module hierarchy, resolved to a module path),
the values of constant arguments, and whether it is safe to run: only torch's own operators, none
that touches files.  `detach_tensors` makes the copy weight-free: tensors the graph reads from the
module, tensor constants and device constants become meta inputs; SetAttr and Print nodes go.
"""

from __future__ import annotations

import re
from typing import Any

import torch

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


def _walk(block: Any) -> list[Any]:
    """Every node of `block` and of its sub-blocks, in order."""
    nodes = []
    for node in block.nodes():
        nodes.append(node)
        for inner in node.blocks():
            nodes.extend(_walk(inner))
    return nodes


def tensor_constants(module: Any) -> bool:
    """True when the module's forward graph holds tensor constants."""
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError):
        return False
    return any(n.kind() == "prim::Constant" and n.output().type().kind() == "TensorType" for n in _walk(graph.block()))


def operator_problem(graph: Any) -> str | None:
    """Why the graph must not run: an operator outside torch's namespaces, one that touches files, a call
    inlining left opaque; else None."""
    for node in _walk(graph.block()):
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


def detach_tensors(graph: Any, module: Any) -> tuple[list[Any], set[Any]]:
    """Turn every tensor the graph reads from the module, and every tensor constant, into a graph input fed
    with a meta stand-in; device constants say meta; drop SetAttr and Print.  (stand-ins, the new inputs)."""
    memo: dict[int, torch.Tensor] = {}
    self_value = next(graph.inputs())
    stand_ins: list[Any] = []
    weights: set[Any] = set()
    for node in _walk(graph.block()):
        kind = node.kind()
        if kind in ("prim::SetAttr", "prim::Print", "aten::_print"):
            node.destroy()
            continue
        if kind == "prim::GetAttr":
            stand_in = _meta(_attribute_value(node.output(), self_value, module), memo)
        elif kind == "prim::Constant" and node.output().type().kind() == "TensorType":
            constant = node.output().toIValue()  # a 0-dim one stays: shape arithmetic reads its value
            stand_in = _meta(constant, memo) if constant.dim() > 0 else None
        elif kind == "prim::Constant" and node.output().type().kind() == "DeviceObjType":
            graph.setInsertPoint(node)
            node.output().replaceAllUsesWith(graph.insertConstant(torch.device("meta")))
            graph.setInsertPoint(graph.block())
            node.destroy()
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
