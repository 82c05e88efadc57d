"""`@record`: a dataclass whose `__repr__`, `__eq__` and `__hash__` are written once, here, not generated.

On Python 3.11 `@dataclass` compiles every method it generates from source text when the class is
created: about a million instructions per method, paid again by every process that imports the class.
The records every audit creates (the IR, rule results, checks, totals, options) would generate ~30 of
them, a fifth of what `audit model.onnx` adds to reading the file.  `record` lets `dataclass` generate
only `__init__` (and a frozen class's `__setattr__`/`__delattr__`) and gives the class the shared methods
below, which behave as the generated ones do: the same repr text, equality of the same class compared
field by field (`compare=True` fields), a frozen record hashed by those fields, a mutable one unhashable.
`dataclasses.fields`, `replace` and `asdict` work as on any dataclass; only `__dataclass_params__` tells
(it records eq=False, and frozen=False for a frozen record with a generic `__init__`).
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, fields
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=False)
def record(cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True,
           compiled_init: bool = True) -> Any:
    """Use as `@record`, `@record(frozen=True)` or `@record(eq=False)`, exactly like `@dataclass(...)` with
    those arguments (`eq=False`: compared and hashed by identity).  `compiled_init=False` for a record an
    audit makes once or twice (its options, totals, result): a generic `__init__` binds the same arguments
    at ~20 us a call instead of compiling one (with a frozen record's `__setattr__`) at every import."""

    def wrap(cls: type[T]) -> type[T]:
        made = dataclass(cls, frozen=frozen and compiled_init, repr=False, eq=False, init=compiled_init)
        names = fields(made)  # type: ignore[arg-type]
        made.__record_repr__ = tuple(f.name for f in names if f.repr)  # type: ignore[attr-defined]
        made.__record_compare__ = tuple(f.name for f in names if f.compare)  # type: ignore[attr-defined]
        made.__record_hash__ = tuple(  # type: ignore[attr-defined]
            f.name for f in names if (f.compare if f.hash is None else f.hash))
        _set(made, "__repr__", _repr)
        if eq:
            _set(made, "__eq__", _eq)
            if "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
                made.__hash__ = _hash if frozen else None  # type: ignore[assignment]
        if not compiled_init:
            _generic_init(made, names, frozen)
        return made

    return wrap if cls is None else wrap(cls)


def _generic_init(cls: type, names: tuple[Field[Any], ...], frozen: bool) -> None:
    """Give `cls` the `__init__` dataclass would have generated (and, when `frozen`, its guards)."""
    if len(names) != len(cls.__dataclass_fields__):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__qualname__}: ClassVar and InitVar fields need a compiled __init__")
    signature = inspect.Signature([
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY if f.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          default=_default_of(f), annotation=f.type)
        for f in names if f.init], return_annotation=None)
    assign = object.__setattr__ if frozen else setattr

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = signature.bind(*args, **kwargs).arguments
        for f in names:
            if f.init and f.name in given:
                assign(self, f.name, given[f.name])
            elif f.default is not MISSING:
                assign(self, f.name, f.default)
            elif f.default_factory is not MISSING:
                assign(self, f.name, f.default_factory())
        if hasattr(self, "__post_init__"):
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *signature.parameters.values()])
    cls.__init__ = __init__  # type: ignore[misc]
    if frozen:
        _guard(cls, frozenset(f.name for f in names))


def _guard(cls: type, field_names: frozenset[str]) -> None:
    """A frozen dataclass's `__setattr__`/`__delattr__`: no field of `cls` changes after `__init__`."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    cls.__setattr__ = __setattr__  # type: ignore[method-assign,assignment]
    cls.__delattr__ = __delattr__  # type: ignore[method-assign,assignment]


def _default_of(f: Field[Any]) -> Any:
    """A parameter's default as `inspect` shows it: the value, `<factory>` for a default_factory, else none."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return _FACTORY
    return inspect.Parameter.empty


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _set(cls: type, name: str, method: Callable[..., Any]) -> None:
    """As dataclass does: a method the class body defines itself is kept."""
    if name not in cls.__dict__:
        setattr(cls, name, method)


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
    return f"{type(self).__qualname__}({values})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = self.__record_compare__
    return tuple(getattr(self, name) for name in names) == tuple(getattr(other, name) for name in names)


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, name) for name in self.__record_hash__))
