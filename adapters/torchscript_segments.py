"""Stretches of a script graph's nodes that one layer (or one recorded operator) ran, found by each
node's module hierarchy: where `torchscript_pass` puts its shape probes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.torchscript_graph import Hierarchy, records_macs, walk


@dataclass
class Segment:
    """Consecutive nodes of one block that one layer (or one recorded operator) ran."""

    key: str
    """The layer's module path, or the op's kind for an operator outside every layer."""
    nodes: list[Any]
    owner: str = ""
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    op: Any = None


def _top(node: Any, block: Any) -> Any:
    """`node`, or the node of `block` that contains it in one of its sub-blocks."""
    while node.owningBlock() != block:
        node = node.owningBlock().owningNode()
        if node is None:
            return None
    return node


def _free_tensors(nodes: list[Any], weights: set[Any]) -> list[Any]:
    """Tensor values the nodes (and their sub-blocks) read from before them, weights excluded, by first use."""
    found: list[Any] = []
    inside = set(nodes)

    def visit(node: Any) -> None:
        for value in node.inputs():
            source = value.node()
            block_input = source.kind() == "prim::Param" and source.owningBlock().owningNode() is not None
            if (source not in inside and not block_input and value not in weights
                    and value.type().kind() == "TensorType" and value not in found):
                found.append(value)
        for block in node.blocks():
            for inner in block.nodes():
                inside.add(inner)
                visit(inner)

    for node in nodes:
        visit(node)
    return found


def _tensors_of(value: Any, inside: set[Any]) -> list[Any]:
    """A tensor value, or the tensors a tuple/list built inside the segment holds."""
    if value.type().kind() == "TensorType":
        return [value]
    node = value.node()
    if node in inside and node.kind() in ("prim::TupleConstruct", "prim::ListConstruct"):
        return [t for v in node.inputs() for t in _tensors_of(v, inside)]
    return [value] if value.type().kind() == "TupleType" else []  # unpacked when probed


def _outputs(segment: Segment, block: Any) -> list[Any]:
    """Values the segment defines that nodes after it (or the block's return) use, as tensors."""
    inside = set(segment.nodes)
    found: list[Any] = []
    for node in segment.nodes:
        for value in node.outputs():
            if any(_top(use.user, block) not in inside for use in value.uses()):
                found.extend(t for t in _tensors_of(value, inside) if t not in found)
    return found


class Segmenter:
    """Splits every block into segments: layer calls (mapped paths) and recorded operators."""

    def __init__(self, hierarchy: Hierarchy, layers: set[str], weights: set[Any]) -> None:
        self.hierarchy = hierarchy
        self.layers = layers
        self.weights = weights
        self.segments: list[tuple[Any, Segment]] = []

    def layer_of(self, node: Any) -> tuple[str | None, str]:
        """(the layer that absorbs the node, the module path that ran it)."""
        path = self.hierarchy.path(node.getModuleHierarchy())
        if path is None:
            return None, ""
        parts = path.split(".") if path else []
        for i in range(len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in self.layers:
                return prefix, path
        return None, path

    def neutral(self, node: Any) -> bool:
        """A check between a layer's own nodes (an If raising on a bad input, often attributed to the caller):
        control flow that calls no layer, records no operator and yields no tensor."""
        if node.kind() not in ("prim::If", "prim::Loop"):
            return False
        if any(o.type().kind() in ("TensorType", "TupleType", "ListType") for o in node.outputs()):
            return False
        return not any(self.layer_of(inner)[0] is not None or records_macs(inner)
                       for block in node.blocks() for inner in walk(block))

    def split(self, block: Any) -> None:
        current: Segment | None = None
        for node in block.nodes():
            if node.kind() == "prim::Constant":
                continue
            layer, owner = self.layer_of(node)
            if current is not None and (layer == current.key or (layer is None and self.neutral(node))):
                current.nodes.append(node)
                continue
            self._close(current, block)
            current = None
            if layer is not None:
                current = Segment(layer, [node], owner)
            elif records_macs(node):
                self._add(block, Segment(node.kind(), [node], owner, op=node))
            else:
                for inner in node.blocks():
                    self.split(inner)
        self._close(current, block)

    def _close(self, segment: Segment | None, block: Any) -> None:
        """Record `segment`, minus trailing control flow that belongs to its caller (split on its own)."""
        if segment is None:
            return
        while self.layer_of(segment.nodes[-1])[0] != segment.key:
            trailing = segment.nodes.pop()  # a control-flow node after the layer's last own node
            for inner in trailing.blocks():
                self.split(inner)
        self._add(block, segment)
        return None

    def _add(self, block: Any, segment: Segment) -> None:
        if segment.op is not None:  # an operator's operands, weights included
            segment.inputs = [v for v in segment.op.inputs() if v.type().kind() == "TensorType"]
        else:
            segment.inputs = _free_tensors(segment.nodes, self.weights)
        segment.outputs = _outputs(segment, block)
        self.segments.append((block, segment))


__all__ = ["Segment", "Segmenter"]
