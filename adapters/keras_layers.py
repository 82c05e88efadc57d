"""Keras layer classes -> canonical kinds: the registry types, the shape helpers, and `LayerConfig`.

`register_layer(cls, kind, attrs)` is the public extension point: `attrs(layer)` returns the
canonical attrs of a built Keras layer.  Lookup follows the class's MRO, so a subclass of Conv2D
is translated as a conv unless it is registered itself.  Registering a class twice is an error.
Keras's own classes translate from their config instead (`LayerConfig`: the dict `get_config()`
returns, which is also what a saved model's config.json holds), so one attrs function per class
serves a live model and a file read without Keras; `keras_attrs`, `keras_spatial` and
`keras_transformers` hold them, `keras_types` the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.ir import Dim, Shape
from auditor.registry import Registry, RegistryError
from auditor.rules.spatial import UNKNOWN

AttrsFn = Callable[[Any], dict[str, Any]]
"""A live Keras layer -> canonical attrs (the public form: users' and keras_hub's classes)."""


@dataclass(frozen=True)
class LayerType:
    """How one Keras layer class translates: its canonical kind and its attrs function.

    `walk`: the layer is a block whose sublayers are translated on their own; `kind` and `attrs` then
    describe only the weights it holds itself (ViT's class token next to its patch conv)."""

    kind: str
    attrs: AttrsFn
    walk: bool = False


DuplicateLayerError = RegistryError
"""The registry's one error class, under the name this module has always exported."""

TypeMap = Registry[type, LayerType]
"""Keras class -> LayerType; `lookup_type` walks the MRO so subclasses inherit their parent's kind."""


def lookup_type(types: TypeMap, cls: type) -> LayerType | None:
    """The translation of the most specific class in `cls`'s MRO that has one."""
    return types.first(cls.__mro__)


# ---------------------------------------------------------------- shapes -----------------------------


def to_shape(shape: Any) -> Shape:
    """A Keras shape as an IR shape: a None batch dim -> "batch", any other None dim (a sequence length
    Keras leaves open, and does not name) -> "?"."""
    out: list[Dim] = []
    for i, d in enumerate(tuple(shape)):
        out.append(int(d) if d is not None else ("batch" if i == 0 else UNKNOWN))
    return tuple(out)


def first_node(layer: Any) -> Any | None:
    """The first graph node where `layer` was called on symbolic tensors, if any."""
    for node in getattr(layer, "_inbound_nodes", []) or []:
        if node.input_tensors:
            return node
    return None


def shapes_of_build(config: Mapping[str, Any] | None) -> list[Shape]:
    """The input shapes a build config records (`{"input_shape": ...}` or a `shapes_dict`)."""
    config = config or {}
    if "input_shape" in config:
        return [to_shape(config["input_shape"])]
    shapes = config.get("shapes_dict") or {}
    return [to_shape(s) for s in shapes.values() if isinstance(s, (tuple, list))]


def build_shapes(layer: Any) -> list[Shape]:
    """Input shapes Keras recorded when it built `layer` (no graph node: subclassed / eager models)."""
    try:
        config = layer.get_build_config() or {}
    except Exception:  # noqa: BLE001 - a user layer's build config may be anything
        return []
    return shapes_of_build(config)


def input_shapes(layer: Any) -> list[Shape]:
    node = first_node(layer)
    if node is not None:
        return [to_shape(t.shape) for t in node.input_tensors]
    return build_shapes(layer)


def input_shape(layer: Any) -> Shape:
    shapes = input_shapes(layer)
    return shapes[0] if shapes else ()


def known(d: Dim) -> int | None:
    return d if isinstance(d, int) else None


def static_or_none(shape: Shape) -> tuple[int, ...] | None:
    """`shape` when every dim is known; None (the attr is then left out) otherwise."""
    return tuple(int(d) for d in shape) if all(isinstance(d, int) for d in shape) else None


def source_type(module: str, name: str) -> str:
    """How a report names a Keras class: "keras.layers.Conv2D", "keras.ops.Add", "keras.applications.LayerScale"."""
    if module.startswith("keras.src.layers") or module.startswith("keras.layers"):
        return f"keras.layers.{name}"
    if module.startswith("keras.src.ops"):
        return f"keras.ops.{name}"
    if module.startswith("keras.src."):
        return f"keras.{module.split('.')[2]}.{name}"
    return f"{module}.{name}"


# ---------------------------------------------------------------- configs ----------------------------


@dataclass(frozen=True)
class LayerConfig:
    """A Keras layer as its config describes it: what the attrs functions of Keras's own classes read.

    `config` is the dict `layer.get_config()` returns, the same dict a saved model's config.json holds;
    `input_shapes` the shapes it was called (or built) with; `build_config` what `get_build_config()`
    returns.  `bases` names the classes of a live layer's MRO (a file gives only its own class);
    `inner` the layers a wrapper holds, by config key (Bidirectional's "layer" and "backward_layer")."""

    class_name: str
    config: Mapping[str, Any]
    input_shapes: tuple[Shape, ...] = ()
    build_config: Mapping[str, Any] = field(default_factory=dict)
    bases: tuple[str, ...] = ()
    inner: Mapping[str, LayerConfig] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.config[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0] if self.input_shapes else ()

    def is_a(self, *names: str) -> bool:
        """True when the class (or, for a live layer, a class it derives from) has one of `names`."""
        return any(name in names for name in (self.bases or (self.class_name,)))


ConfigAttrsFn = Callable[[LayerConfig], dict[str, Any]]
"""A layer's config -> canonical attrs (Keras's own classes)."""


def config_of(layer: Any) -> LayerConfig:
    """A live layer's `LayerConfig`: its `get_config()`, the shapes of its first call, its build config."""
    try:
        build = layer.get_build_config() or {}
    except Exception:  # noqa: BLE001 - a user layer's build config may be anything
        build = {}
    wrapped = {key: config_of(getattr(layer, attr)) for key, attr in _WRAPPED if getattr(layer, attr, None) is not None}
    return LayerConfig(type(layer).__name__, layer.get_config(), tuple(input_shapes(layer)), build,
                       tuple(c.__name__ for c in type(layer).__mro__), wrapped)


_WRAPPED = (("layer", "forward_layer"), ("backward_layer", "backward_layer"))
"""(config key, attribute) of the layers a live wrapper holds; from a file they are the config's dicts."""


def config_from_dict(serialized: Mapping[str, Any], input_shapes: tuple[Shape, ...] = ()) -> LayerConfig:
    """The `LayerConfig` of one serialized layer (`{"class_name", "config", "build_config", ...}`)."""
    config = serialized.get("config") or {}
    inner = {key: config_from_dict(value) for key, value in config.items()
             if key in dict(_WRAPPED) and isinstance(value, Mapping) and "class_name" in value}
    return LayerConfig(str(serialized.get("class_name", "")), config, input_shapes,
                       serialized.get("build_config") or {}, (), inner)


def from_config(attrs: ConfigAttrsFn) -> AttrsFn:
    """The live-layer form of a config attrs function (what the Keras type map holds for Keras's classes)."""

    def live(layer: Any) -> dict[str, Any]:
        return attrs(config_of(layer))

    live.__qualname__ = getattr(attrs, "__qualname__", "attrs")
    return live


__all__ = ["AttrsFn", "ConfigAttrsFn", "DuplicateLayerError", "LayerConfig", "LayerType", "TypeMap", "config_of",
           "from_config", "input_shape", "known", "lookup_type", "to_shape"]
