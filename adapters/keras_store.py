"""The weights a saved Keras model holds, per layer, from the HDF5 headers only (dims and dtypes, never data).

A `.keras` archive's model.weights.h5 keeps each layer under `layers/<snake_case class>[_n]`, its own
variables positionally in `vars/0, vars/1, ...` (the layer's name is an attribute of `vars`), those of
the objects it holds (MultiHeadAttention's projections, an LSTM's cell) in their own `vars` below it,
and a nested model's layers under its `layers/`.  A legacy `.h5` keeps each top-level layer's weights
under `model_weights/<layer name>`, listed by name in its `weight_names` attribute.  Anything beside
the model (a compiled model's optimizer state) is kept apart: it is not part of the model's count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.h5_datasets import Dataset, dataset


@dataclass(frozen=True)
class VariableGroup:
    """The variables of one object inside a layer, in the order Keras saved them.

    `prefix`: the names of the objects between the layer and these variables ("query/" for
    MultiHeadAttention's query projection, "forward_lstm/lstm_cell/"); empty for the layer's own.
    `names`: the variables' own names when the file states them (legacy .h5), else empty: a .keras file
    numbers them, and the layer's class says which is which."""

    prefix: str
    variables: tuple[Dataset, ...]
    names: tuple[str, ...] = ()


@dataclass
class StoredLayer:
    """What a file stores for one layer: its variable groups, and a nested model's layers by name."""

    groups: list[VariableGroup] = field(default_factory=list)
    layers: dict[str, StoredLayer] = field(default_factory=dict)

    @property
    def variables(self) -> list[Dataset]:
        """Every variable of this layer and of the layers nested in it."""
        own = [v for g in self.groups for v in g.variables]
        return own + [v for inner in self.layers.values() for v in inner.variables]


@dataclass(frozen=True)
class StoredModel:
    """A file's model weights (`root`), and what else it stores beside them (group -> variables)."""

    root: StoredLayer
    beside: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- .keras ------------------------------


def read_keras_weights(store: Any) -> StoredModel:
    """model.weights.h5 (an open h5py File) as a StoredModel."""
    beside = {name: _count(store[name]) for name in store if name not in ("layers", "vars")}
    return StoredModel(_layer(store, "", skip=frozenset(beside)), beside)


def _layer(group: Any, path: str, skip: frozenset[str] = frozenset()) -> StoredLayer:
    """A layer's stored variables; `skip`: the groups beside the model (the optimizer's), at the top only."""
    layer = StoredLayer()
    for name in group:
        if name in skip:
            continue
        item = group[name]
        if name == "vars":
            layer.groups.append(VariableGroup("", _numbered(item, f"{path}vars/")))
        elif name == "layers":
            layer.layers = {_own_name(child, key): _layer(child, f"{path}layers/{key}/")
                            for key, child in item.items()}
        else:
            layer.groups += _held(item, f"{path}{name}/", "")
    return layer


def _held(group: Any, path: str, prefix: str) -> list[VariableGroup]:
    """The variable groups of an object a layer holds (and of the objects it holds in turn)."""
    own = f"{prefix}{_own_name(group, '')}/" if _own_name(group, "") else prefix
    found = []
    for name in group:
        if name == "vars":
            variables = _numbered(group[name], f"{path}vars/")
            if variables:
                found.append(VariableGroup(own, variables))
        else:
            found += _held(group[name], f"{path}{name}/", own)
    return found


def _own_name(group: Any, default: str) -> str:
    """The object's name as Keras recorded it on its `vars` group."""
    holder = group.get("vars")
    name = holder.attrs.get("name") if holder is not None else None
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name) if name else default


def _numbered(group: Any, path: str) -> tuple[Dataset, ...]:
    keys = sorted((k for k in group), key=lambda k: int(k) if k.isdigit() else -1)
    return tuple(dataset(f"{path}{k}", group[k]) for k in keys)


def _count(group: Any) -> int:
    found: list[int] = []
    group.visit(lambda name: found.append(1) if hasattr(group[name], "shape") else None)
    return len(found)


# ---------------------------------------------------------------- legacy .h5 --------------------------


def read_legacy_weights(store: Any) -> StoredModel:
    """A legacy .h5's `model_weights` group: each top-level layer's weights by name."""
    layers: dict[str, StoredLayer] = {}
    for name, group in store.items():
        listed = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        variables = tuple(dataset(f"{name}/{n}", group[n]) for n in listed)
        names = tuple(_relative(n, name) for n in listed)
        layers[name] = StoredLayer([VariableGroup("", variables, names)] if variables else [])
    return StoredModel(StoredLayer(layers=layers))


def _relative(weight_name: str, layer: str) -> str:
    """A legacy weight name below its layer: "dense/kernel:0" -> "kernel", "down/conv2d_1/kernel" -> "conv2d_1/kernel"."""
    name = weight_name.split(":", 1)[0]
    return name[len(layer) + 1:] if name.startswith(f"{layer}/") else name


def split_named(stored: StoredLayer, inner: list[str]) -> dict[str, StoredLayer]:
    """A legacy nested model's weights (named "conv2d_1/kernel") shared out among its layers `inner`."""
    out: dict[str, StoredLayer] = {}
    for group in stored.groups:
        for variable, name in zip(group.variables, group.names):
            head, _, rest = name.partition("/")
            if head not in inner or not rest:
                raise ValueError(f"weight {name!r} belongs to none of the nested model's layers")
            layer = out.setdefault(head, StoredLayer([VariableGroup("", (), ())]))
            own = layer.groups[0]
            layer.groups[0] = VariableGroup("", (*own.variables, variable), (*own.names, rest))
    return out
