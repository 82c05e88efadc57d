"""Groups, datasets and attributes of an HDF5 file read by `adapters.h5_headers`, offering the few h5py
calls the Keras readers make (`in`, `[]`, `get`, iteration, `items`, `visit`, `attrs.get`, `shape`, `dtype`).

Values are what h5py would give: dims as ints, dtypes by numpy's names ("float32"), variable-length
strings as str, fixed-length ones as bytes without their trailing NULs.  A dtype or attribute h5py would
map in some other way (big-endian, opaque, enum, compound, numeric attribute values) raises `Unsupported`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from adapters.h5_headers import (
    ATTRIBUTE,
    DATASPACE,
    DATATYPE,
    LAYOUT,
    SYMBOL_TABLE,
    File,
    Message,
    Unsupported,
)

_FLOATS = {2: (10, 5, 15), 4: (23, 8, 127), 8: (52, 11, 1023)}
"""IEEE binary16/32/64: mantissa bits, exponent bits, exponent bias (what numpy's float16/32/64 are)."""


@dataclass(frozen=True)
class DType:
    """A dataset's element type as numpy names it: kind ("f", "i", "u"), itemsize in bytes, and name."""

    kind: str
    itemsize: int
    name: str

    def __str__(self) -> str:
        return self.name


@contextlib.contextmanager
def opened(path: str, start: int = 0, size: int | None = None) -> Iterator[Group]:
    """The root group of the HDF5 file at `path` (or in the window `start`..`start+size` of it)."""
    file = File(path, start, size)
    try:
        yield Group(file, file.root)
    finally:
        file.close()


class _Node:
    def __init__(self, file: File, address: int, messages: list[Message]) -> None:
        self._file, self.address, self._messages = file, address, messages
        self.attrs = Attributes(file, [m.body for m in messages if m.kind == ATTRIBUTE])


def _node(file: File, address: int) -> Group | Dataset:
    known = file.nodes.get(address)
    if known is not None:
        return known
    messages = file.messages(address)
    kinds = {m.kind for m in messages}
    node: Group | Dataset
    if SYMBOL_TABLE in kinds:
        node = Group(file, address, messages)
    elif {DATASPACE, DATATYPE, LAYOUT} <= kinds:
        node = Dataset(file, address, messages)
    else:
        raise Unsupported(f"object at {address} is neither a symbol-table group nor a dataset")
    file.nodes[address] = node
    return node


class Group(_Node):
    """A symbol-table group: its members by name, in the file's (name) order."""

    def __init__(self, file: File, address: int, messages: list[Message] | None = None) -> None:
        super().__init__(file, address, file.messages(address) if messages is None else messages)
        table = next((m.body for m in self._messages if m.kind == SYMBOL_TABLE), None)
        if table is None:
            raise Unsupported(f"object at {address} is not a symbol-table group")
        o = file.offsets
        self._links = dict(file.members(file.uint(table, 0, o), file.uint(table, o, o)))

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, path: str) -> Group | Dataset:
        item: Group | Dataset = self
        for part in (p for p in path.split("/") if p):
            if not isinstance(item, Group) or part not in item._links:
                raise KeyError(f"{path!r} is not in the group")
            item = _node(self._file, item._links[part])
        return item

    def get(self, path: str, default: Any = None) -> Any:
        try:
            return self[path]
        except KeyError:
            return default

    def items(self) -> Iterator[tuple[str, Group | Dataset]]:
        return ((name, self[name]) for name in self._links)

    def visit(self, call: Callable[[str], Any]) -> Any:
        """`call(path)` for every object below, each once, groups before their members (h5py's `visit`)."""
        seen: set[int] = set()

        def walk(group: Group, prefix: str) -> Any:
            for name, address in group._links.items():
                if address in seen:
                    continue
                seen.add(address)
                done = call(f"{prefix}{name}")
                if done is not None:
                    return done
                item = _node(self._file, address)
                if isinstance(item, Group) and (done := walk(item, f"{prefix}{name}/")) is not None:
                    return done
            return None

        return walk(self, "")


class Dataset(_Node):
    """A dataset's header: dims and element type (its data is never read)."""

    def __init__(self, file: File, address: int, messages: list[Message]) -> None:
        super().__init__(file, address, messages)
        bodies = {m.kind: m.body for m in messages}
        self.shape = _dims(file, bodies[DATASPACE])
        self.dtype = _number(file, bodies[DATATYPE])


class Attributes:
    """An object's attributes by name; a value is decoded when asked for."""

    def __init__(self, file: File, bodies: list[bytes]) -> None:
        self._file = file
        self._raw = dict(_attribute(file, body) for body in bodies)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self._raw:
            return default
        datatype, dataspace, data = self._raw[name]
        dims = _dims(self._file, dataspace)
        if len(dims) > 1:
            raise Unsupported(f"attribute {name!r} has {len(dims)} dims")
        count = dims[0] if dims else 1
        values = _strings(self._file, datatype, data, count) if count else []
        return values if dims else values[0]


def _attribute(file: File, body: bytes) -> tuple[str, tuple[bytes, bytes, bytes]]:
    """(name, (datatype, dataspace, data)) of an attribute message (versions 1 to 3)."""
    version, flags = body[0], body[1]
    if version not in (1, 2, 3) or (version > 1 and flags):
        raise Unsupported(f"attribute message version {version}, flags {flags}")
    sizes = [file.uint(body, 2 + 2 * i, 2) for i in range(3)]
    if version == 3 and body[8] not in (0, 1):
        raise Unsupported("an attribute name in an unknown character set")
    at, parts = {1: 8, 2: 8, 3: 9}[version], []
    for size in sizes:
        parts.append(body[at:at + size])
        at += (size + 7) // 8 * 8 if version == 1 else size
    if len(parts[2]) < sizes[2]:
        raise Unsupported("an attribute message ends early")
    name = parts[0].split(b"\0", 1)[0].decode("utf-8")
    return name, (parts[1], parts[2], body[at:])


def _dims(file: File, body: bytes) -> tuple[int, ...]:
    """A dataspace message's dims (scalar: ())."""
    version, rank = body[0], body[1]
    if version == 1:
        at = 8
    elif version == 2 and body[3] in (0, 1):
        at = 4
    else:
        raise Unsupported(f"dataspace message version {version} (a null dataspace?)")
    if rank > 32:
        raise Unsupported(f"a dataspace of rank {rank}")
    n = file.lengths
    return tuple(file.uint(body, at + i * n, n) for i in range(rank))


def _number(file: File, body: bytes) -> DType:
    """A little-endian IEEE float or a plain integer type, as numpy names it."""
    kind, bits, size = body[0] & 0x0F, file.uint(body, 1, 3), file.uint(body, 4, 4)
    if body[0] >> 4 not in (1, 2, 3) or bits & 0x01 or len(body) < 12:
        raise Unsupported("a datatype of an unknown version or big-endian")
    offset, precision = file.uint(body, 8, 2), file.uint(body, 10, 2)
    if kind == 0 and size in (1, 2, 4, 8) and offset == 0 and precision == 8 * size:
        signed = bool(bits & 0x08)
        return DType("i" if signed else "u", size, f"{'int' if signed else 'uint'}{8 * size}")
    if kind == 1 and size in _FLOATS and offset == 0 and precision == 8 * size and len(body) >= 20:
        mantissa, exponent, bias = _FLOATS[size]
        layout = (body[12], body[13], body[14], body[15], file.uint(body, 16, 4), (bits >> 8) & 0xFF)
        if layout == (mantissa, exponent, 0, mantissa, bias, 8 * size - 1) and bits & 0x70 == 0x20:
            return DType("f", size, f"float{8 * size}")
    raise Unsupported(f"datatype class {kind} of {size} bytes is not a plain number")


def _strings(file: File, datatype: bytes, data: bytes, count: int) -> list[Any]:
    """`count` string values: variable-length ones (in the global heap) as str, fixed-length as bytes."""
    kind, bits, size = datatype[0] & 0x0F, file.uint(datatype, 1, 3), file.uint(datatype, 4, 4)
    if kind == 3 and len(data) >= count * size:
        return [data[i * size:(i + 1) * size].rstrip(b"\0") for i in range(count)]
    if kind != 9 or bits & 0x0F != 1 or (bits >> 8) & 0x0F not in (0, 1):
        raise Unsupported(f"attribute datatype class {kind} is not a string")
    codec = "ascii" if (bits >> 8) & 0x0F == 0 else "utf-8"
    o, step, values = file.offsets, 8 + file.offsets, []
    for i in range(count):
        length = file.uint(data, i * step, 4)
        text = file.heap_object(file.uint(data, i * step + 4, o), file.uint(data, i * step + 4 + o, 4))[:length]
        if length == 0 or len(text) < length or b"\0" in text:
            raise Unsupported("an empty, short or NUL-holding variable-length string")
        values.append(text.decode(codec))
    return values
