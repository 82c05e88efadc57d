"""One registry type for every extension table: rules by kind, and each adapter's type map.

The rules (`auditor.rules.RULES`), PyTorch module classes (`adapters.torch_types.MODULE_TYPES`),
Keras layer classes (`adapters.keras_layers.LAYER_TYPES`) and ONNX op translators
(`adapters.onnx_translators.OP_TRANSLATORS`) are all a `Registry`, with the same API and one error class:
`register` refuses a key that is taken (so nothing replaces a built-in by accident), `replace`
refuses a key that is not there, `unregister` removes, and `override` swaps an entry for the
length of a `with` block.  `copy()` gives a caller a registry of their own (`audit(m, rules=...)`).
`providers` name the module that registers a key when imported: it is imported the first time the key
(or the whole registry) is asked for, so a run imports only the entries it uses.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING: Any = object()


class RegistryError(ValueError):
    """A key registered twice, or replaced / unregistered while it is not registered."""


def key_text(key: object) -> str:
    """How a key reads in messages: a class by its qualified name, anything else as itself."""
    if isinstance(key, type):
        return f"{key.__module__}.{key.__qualname__}"
    if isinstance(key, tuple):
        return ":".join(str(part) or "ai.onnx" for part in key)
    return str(key)


def _value_text(value: object) -> str:
    name = getattr(value, "__qualname__", None) or type(value).__name__
    kind = getattr(value, "kind", None)
    return f"{name} ({kind})" if isinstance(kind, str) and kind else name


class Registry(Generic[K, V]):
    """key -> value, with duplicate registration refused.  `what` names an entry in messages ("rule")."""

    def __init__(self, what: str, entries: Mapping[K, V] | Iterable[tuple[K, V]] = (),
                 providers: Mapping[K, str] | None = None) -> None:
        self.what = what
        self._entries: dict[K, V] = {}
        self._providers: dict[K, str] = dict(providers or {})
        """key -> the module whose import registers it, for the keys not looked for yet."""
        for key, value in entries.items() if isinstance(entries, Mapping) else entries:
            self.register(key, value)

    def __repr__(self) -> str:  # counts the entries still to import without importing them
        return f"<Registry of {len(self._entries.keys() | self._providers.keys())} {self.what} entries>"

    def _provide(self, key: object) -> None:
        """Import the module that registers `key`, the first time it is asked for (a module importing
        itself while it registers is already in `sys.modules`: nothing runs twice)."""
        module = self._providers.pop(key, None)  # type: ignore[arg-type]
        if module is not None:
            importlib.import_module(module)

    def _provide_all(self) -> None:
        while self._providers:
            self._provide(next(iter(self._providers)))

    def register(self, key: K, value: V, *, replace: bool = False) -> V:
        """Add `value` under `key`; RegistryError when the key is taken (unless `replace`).  Returns `value`."""
        self._provide(key)  # a built-in entry is there to be refused or replaced
        if key in self._entries and not replace:
            raise RegistryError(
                f"a {self.what} for {key_text(key)!r} is already registered ({_value_text(self._entries[key])}); "
                "pass replace=True to change it"
            )
        self._entries[key] = value
        return value

    def replace(self, key: K, value: V) -> V:
        """Put `value` in place of the registered one; RegistryError when `key` has no entry.  Returns the old value."""
        self._provide(key)
        old = self._require(key)
        self._entries[key] = value
        return old

    def unregister(self, key: K, *, missing_ok: bool = False) -> V | None:
        """Remove and return the entry for `key`; RegistryError when there is none (unless `missing_ok`)."""
        self._provide(key)
        if key not in self._entries and missing_ok:
            return None
        self._require(key)
        return self._entries.pop(key)

    @contextlib.contextmanager
    def override(self, key: K, value: V) -> Iterator[V]:
        """Within the block `key` maps to `value` (registered or not before); the old state comes back after."""
        self._provide(key)
        old = self._entries.get(key, _MISSING)
        self._entries[key] = value
        try:
            yield value
        finally:
            if old is _MISSING:
                self._entries.pop(key, None)
            else:
                self._entries[key] = old

    def get(self, key: K) -> V | None:
        if key not in self._entries:
            self._provide(key)
        return self._entries.get(key)

    def first(self, keys: Iterable[K]) -> V | None:
        """The value of the first of `keys` that is registered (a class's MRO, most specific first)."""
        for key in keys:
            if key in self:
                return self._entries[key]
        return None

    def copy(self, what: str | None = None) -> Registry[K, V]:
        """An independent registry with the same entries: change it without touching this one."""
        return Registry(what or self.what, self.items())

    def keys(self) -> list[K]:
        self._provide_all()
        return list(self._entries)

    def items(self) -> list[tuple[K, V]]:
        self._provide_all()
        return list(self._entries.items())

    def __contains__(self, key: object) -> bool:
        if key not in self._entries:
            self._provide(key)
        return key in self._entries

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())

    def __len__(self) -> int:
        self._provide_all()
        return len(self._entries)

    def _require(self, key: K) -> V:
        if key not in self._entries:
            raise RegistryError(f"no {self.what} is registered for {key_text(key)!r}")
        return self._entries[key]


__all__ = ["Registry", "RegistryError", "key_text"]
