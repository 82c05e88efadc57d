"""A saved Keras model's graph, read from its config dict alone (config.json, or a legacy .h5's model_config).

A Functional model lists its operations in Keras's own (topological) order, each with its calls
(`inbound_nodes`): the tensors each call consumed, by `keras_history` (producing operation, node,
tensor) and, in Keras 3 files, with their recorded shape.  A Sequential lists its layers only: each
consumes the one before, and its recorded input shape is its build shape.  Keras 2 configs record no
shapes: `[[name, node, tensor, kwargs], ...]` per call.  No Keras import; nothing is deserialized.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.keras_layers import to_shape
from auditor.ir import Shape

Ref = tuple[str, int, int]
"""(operation name, node index, tensor index): one tensor, as config.json refers to it."""

MODEL_CLASSES = ("Functional", "Sequential", "Model")
"""Class names of the graph models a config describes (Keras 2 wrote "Model" for Functional)."""


@dataclass(frozen=True)
class Arg:
    """One tensor a call consumed: where it comes from and, when Keras recorded it, its shape."""

    source: Ref | None
    shape: Shape | None


@dataclass(frozen=True)
class Op:
    """One operation of a graph: its serialized entry and its calls (each a tuple of tensor arguments)."""

    name: str
    serialized: Mapping[str, Any]
    calls: tuple[tuple[Arg, ...], ...]

    @property
    def class_name(self) -> str:
        return str(self.serialized.get("class_name", ""))

    @property
    def module(self) -> str:
        """The class's module.  Legacy configs name none: a layer's config always holds `trainable`, an
        operation's (`x + 3` in a Functional model: keras.ops.Add) only its name and arguments."""
        module = self.serialized.get("module")
        if module:
            return str(module)
        return "keras.layers" if "trainable" in self.config else "keras.src.ops"

    @property
    def registered_name(self) -> str | None:
        name = self.serialized.get("registered_name")
        return str(name) if name else None

    @property
    def config(self) -> Mapping[str, Any]:
        return self.serialized.get("config") or {}

    @property
    def trainable(self) -> bool:
        return bool(self.config.get("trainable", True))

    @property
    def is_input(self) -> bool:
        return self.class_name == "InputLayer"

    @property
    def node_offset(self) -> int:
        """Keras numbers a nested Functional model's calls from 1 (its node 0 links its own inputs to outputs)."""
        return 1 if self.class_name in ("Functional", "Model") else 0


@dataclass(frozen=True)
class Graph:
    """One model's operations in order, its input and output tensors."""

    name: str
    ops: tuple[Op, ...]
    inputs: tuple[Ref, ...]
    outputs: tuple[Ref, ...]
    trainable: bool


def is_model(serialized: Mapping[str, Any]) -> bool:
    """A Functional or Sequential model of Keras's own (not a subclass of someone's)."""
    registered = serialized.get("registered_name") or ""
    config = serialized.get("config")
    return (serialized.get("class_name") in MODEL_CLASSES and ">" not in str(registered)
            and isinstance(config, Mapping) and isinstance(config.get("layers"), list))


def graph_of(serialized: Mapping[str, Any]) -> Graph:
    """The graph of a Functional or Sequential model's serialized entry (`is_model` must hold)."""
    config = serialized["config"]
    name = str(config.get("name", ""))
    trainable = bool(config.get("trainable", True))
    if serialized.get("class_name") == "Sequential":
        return _sequential(name, config, trainable)
    ops = tuple(Op(str(entry.get("name") or (entry.get("config") or {}).get("name", "")), entry,
                   tuple(_call(node) for node in entry.get("inbound_nodes") or []))
                for entry in config["layers"])
    return Graph(name, ops, _refs(config.get("input_layers")), _refs(config.get("output_layers")), trainable)


def _sequential(name: str, config: Mapping[str, Any], trainable: bool) -> Graph:
    """A Sequential as a chain: each layer consumes the one before; an InputLayer (or the build shape) starts it."""
    entries = list(config["layers"])
    if not entries or entries[0].get("class_name") != "InputLayer":
        shape = config.get("build_input_shape")
        if shape is None:
            raise ValueError(f"Sequential {name!r} was saved before it was built (no input shape)")
        entries.insert(0, {"class_name": "InputLayer", "name": f"{name}_input",
                           "config": {"batch_shape": shape, "name": f"{name}_input"}})
    ops = [Op(_entry_name(entries[0]), entries[0], ())]
    for entry in entries[1:]:
        build = (entry.get("build_config") or {}).get("input_shape")
        arg = Arg((ops[-1].name, 0, 0), to_shape(build) if isinstance(build, list) else None)
        ops.append(Op(_entry_name(entry), entry, ((arg,),)))
    return Graph(name, tuple(ops), ((ops[0].name, 0, 0),), ((ops[-1].name, 0, 0),) if len(ops) > 1 else (), trainable)


def _entry_name(entry: Mapping[str, Any]) -> str:
    return str(entry.get("name") or (entry.get("config") or {}).get("name", ""))


def _call(node: Any) -> tuple[Arg, ...]:
    """The tensors one call consumed, in Keras's order (positional arguments, then keyword ones by name)."""
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        return tuple(Arg((str(e[0]), int(e[1]), int(e[2])), None) for e in node)
    found: list[Arg] = []
    _collect(node.get("args", []), found)
    _collect(node.get("kwargs", {}), found)
    return tuple(found)


def _collect(value: Any, found: list[Arg]) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, found)
    elif isinstance(value, Mapping):
        kind = value.get("class_name")
        if kind == "__keras_tensor__":
            tensor = value.get("config") or {}
            history = tensor.get("keras_history")
            source = (str(history[0]), int(history[1]), int(history[2])) if history else None
            shape = tensor.get("shape")
            found.append(Arg(source, to_shape(shape) if isinstance(shape, list) else None))
        elif kind in ("__tuple__", "__list__"):
            _collect((value.get("config") or {}).get("value", []), found)
        elif kind is None:
            for key in sorted(value):
                _collect(value[key], found)


def _refs(value: Any) -> tuple[Ref, ...]:
    """A config's input_layers / output_layers (one ref, a list, or a dict sorted by key) as refs."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return ((value[0], int(value[1]), int(value[2])),)
    if isinstance(value, list):
        return tuple(ref for item in value for ref in _refs(item))
    if isinstance(value, Mapping):
        return tuple(ref for key in sorted(value) for ref in _refs(value[key]))
    return ()
