"""Reading one Keras operation: its shapes from its graph node (or Keras's own compute_output_shape),
the operation that feeds it, how its weights are named in the IR."""

from __future__ import annotations

from typing import Any

from adapters.keras_layers import first_node, to_shape
from auditor.ir import Shape


def node_inputs(op: Any) -> list[Shape]:
    node = first_node(op)
    return [to_shape(t.shape) for t in node.input_tensors] if node is not None else []


def output_shapes(op: Any, ins: list[Shape]) -> list[Shape]:
    """Output shapes from the graph node, else Keras's own `compute_output_shape` on the build shapes."""
    node = first_node(op)
    if node is not None:
        return [to_shape(t.shape) for t in node.outputs]
    if not ins or not hasattr(op, "compute_output_shape"):
        return []
    keras_shapes = [tuple(None if isinstance(d, str) else d for d in s) for s in ins]
    try:
        out = op.compute_output_shape(*keras_shapes)
    except Exception:  # noqa: BLE001 - Keras raises many types for layers it cannot shape
        return []
    return shapes_in(out)


def shapes_in(value: Any) -> list[Shape]:
    """Every shape in a (possibly nested) structure `compute_output_shape` returned."""
    if isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value):
        return [to_shape(value)]
    if isinstance(value, (list, tuple)):
        return [shape for item in value for shape in shapes_in(item)]
    if isinstance(value, dict):
        return [shape for item in value.values() for shape in shapes_in(item)]
    return []


def producer(op: Any) -> Any | None:
    """The operation whose output is `op`'s first input in the graph, if known."""
    node = first_node(op)
    if node is None:
        return None
    history = getattr(node.input_tensors[0], "_keras_history", None)
    return getattr(history, "operation", None)


def weight_name(layer: Any, variable: Any) -> str:
    """The weight's path below its layer ("kernel", "query/kernel", "forward_lstm/lstm_cell/bias")."""
    path = str(getattr(variable, "path", "") or "")
    marker = f"{layer.name}/"
    at = path.find(marker)
    return path[at + len(marker) :] if at >= 0 else str(variable.name)


__all__ = ["node_inputs", "output_shapes", "producer", "weight_name"]
