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
    FILL_VALUE,
    LAYOUT,
    MODIFIED,
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
        _check_storage(file, bodies[LAYOUT], self.dtype.itemsize * _count(self.shape))
        if FILL_VALUE in bodies:
            _check_fill(file, bodies[FILL_VALUE])
        if MODIFIED in bodies and (bodies[MODIFIED][:1] != b"\x01" or len(bodies[MODIFIED]) < 8):
            raise Unsupported("a modification time message of an unknown version")


def _check_fill(file: File, body: bytes) -> None:
    """A fill value message (versions 2 and 3) whose value, when it has one, fits in the message."""
    if body[:1] == b"\x02" and len(body) >= 4 and body[3] in (0, 1):
        size = file.uint(body, 4, 4) if body[3] else 0
        at = 8
    elif body[:1] == b"\x03" and len(body) >= 2 and not body[1] & 0xC0 and body[1] & 0x30 != 0x30:
        size = file.uint(body, 2, 4) if body[1] & 0x20 else 0
        at = 6
    else:
        raise Unsupported("a fill value message of an unknown version")
    if size and at + size > len(body):
        raise Unsupported("a fill value runs past its message")


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _check_storage(file: File, layout: bytes, size: int) -> None:
    """The checks the library makes when it opens a dataset: contiguous or compact data of the size the
    dims and dtype give, inside the file (chunked data, with its B-tree of chunks, is left to h5py)."""
    if len(layout) < 2 or layout[0] != 3 or layout[1] not in (0, 1):
        raise Unsupported("a data layout other than contiguous or compact (version 3)")
    if layout[1] == 0:
        stored = file.uint(layout, 2, 2)
    else:
        address, stored = file.uint(layout, 2, file.offsets), file.uint(layout, 2 + file.offsets, file.lengths)
        if address != (1 << 8 * file.offsets) - 1:
            file.read(address, 0) if stored == 0 else file.read(address + stored - 1, 1)
    if stored != size:
        raise Unsupported(f"a dataset stores {stored} bytes where its dims and dtype give {size}")


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
        values = _strings(self._file, datatype, data, count)
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
    if any(len(part) < size for part, size in zip(parts, sizes)) or at > len(body):
        raise Unsupported("an attribute message ends early")
    if parts[0].find(b"\0") != sizes[0] - 1:  # the library checks the stored length too
        raise Unsupported("an attribute name of another length than stored")
    name = parts[0][:-1].decode("utf-8")
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
    dims = tuple(file.uint(body, at + i * n, n) for i in range(rank))
    if body[2] & 0x01:  # max dims follow: each at least its dim, or unlimited
        limit = (1 << 8 * n) - 1
        for i, dim in enumerate(dims):
            most = file.uint(body, at + (rank + i) * n, n)
            if most != limit and dim > most:
                raise Unsupported(f"dim {i} ({dim}) is over its max dim ({most})")
    return dims


def _number(file: File, body: bytes) -> DType:
    """A little-endian IEEE float or a plain integer type, as numpy names it."""
    kind, bits, size = body[0] & 0x0F, file.uint(body, 1, 3), file.uint(body, 4, 4)
    if body[0] >> 4 not in (1, 2, 3) or bits & 0x07 or len(body) < 12:
        raise Unsupported("a datatype of an unknown version, big-endian or with padding bits set")
    offset, precision = file.uint(body, 8, 2), file.uint(body, 10, 2)
    if kind == 0 and size in (1, 2, 4, 8) and offset == 0 and precision == 8 * size:
        signed = bool(bits & 0x08)
        return DType("i" if signed else "u", size, f"{'int' if signed else 'uint'}{8 * size}")
    if kind == 1 and size in _FLOATS and offset == 0 and precision == 8 * size and len(body) >= 20:
        mantissa, exponent, bias = _FLOATS[size]
        layout = (body[12], body[13], body[14], body[15], file.uint(body, 16, 4), (bits >> 8) & 0xFF)
        if layout == (mantissa, exponent, 0, mantissa, bias, 8 * size - 1) and bits & 0x78 == 0x20:
            return DType("f", size, f"float{8 * size}")
    raise Unsupported(f"datatype class {kind} of {size} bytes is not a plain number")


def _strings(file: File, datatype: bytes, data: bytes, count: int) -> list[Any]:
    """`count` string values: variable-length ones (in the global heap) as str, fixed-length as bytes; an
    attribute of no values may be of a number type (Keras's empty `weight_names`)."""
    kind, bits, size = datatype[0] & 0x0F, file.uint(datatype, 1, 3), file.uint(datatype, 4, 4)
    if datatype[0] >> 4 not in (1, 2, 3):
        raise Unsupported("an attribute datatype of an unknown version")
    if kind == 3 and size and bits & 0x0F in (0, 1, 2) and bits >> 4 in (0, 1) and len(data) >= count * size:
        return [data[i * size:(i + 1) * size].rstrip(b"\0") for i in range(count)]
    if kind != 9:
        if count:
            raise Unsupported(f"attribute datatype class {kind} is not a string")
        _number(file, datatype)  # no values, but of a type h5py reads (else it refuses the attribute)
        return []
    base = datatype[8:20]
    if bits & 0x0F != 1 or (bits >> 8) & 0x0F not in (0, 1) or size != 8 + file.offsets or len(base) < 12 or base[0] not in (0x10, 0x20, 0x30) \
            or base[1:4] != b"\0\0\0" or file.uint(base, 4, 4) != 1 or file.uint(base, 8, 4) != 8 << 16:
        raise Unsupported("a variable-length attribute that is not a string of bytes")
    codec = "ascii" if (bits >> 8) & 0x0F == 0 else "utf-8"
    o, step, values = file.offsets, 8 + file.offsets, []
    for i in range(count):
        length = file.uint(data, i * step, 4)
        text = file.heap_object(file.uint(data, i * step + 4, o), file.uint(data, i * step + 4 + o, 4))
        if length == 0 or len(text) != length or b"\0" in text:  # the library checks the size too
            raise Unsupported("an empty, mis-sized or NUL-holding variable-length string")
        values.append(text.decode(codec))
    return values
