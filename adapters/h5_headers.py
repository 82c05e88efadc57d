"""HDF5 metadata read straight from a file's bytes: object headers, symbol-table groups, global-heap strings.

Importing h5py (and the numpy it needs) was half of a whole `audit model.keras` process, for a read of a
few hundred headers.  This reads only the layout h5py writes by default (superblock 0 or 1, version-1
object headers, symbol-table groups, no shared messages, no dense attribute storage); anything else raises
`Unsupported`, and the caller reads the file with h5py instead, so an unusual file is read as before.
The nodes built on it (group members, dataset dims and dtypes, string attributes) are `adapters.h5_nodes`.
"""

from __future__ import annotations

import mmap
import struct
from typing import Any, NamedTuple

SIGNATURE = b"\x89HDF\r\n\x1a\n"

NIL, DATASPACE, DATATYPE, LAYOUT, ATTRIBUTE, CONTINUATION, SYMBOL_TABLE = 0x00, 0x01, 0x03, 0x08, 0x0C, 0x10, 0x11
FILL_VALUE, MODIFIED = 0x05, 0x12
KNOWN = frozenset((NIL, DATASPACE, DATATYPE, FILL_VALUE, LAYOUT, ATTRIBUTE, CONTINUATION, SYMBOL_TABLE, MODIFIED))
"""The messages read (or safely passed over) here; any other (the newer link and attribute storage in
fractal heaps, filters, external storage) leaves the file to h5py."""


class Unsupported(Exception):
    """A layout (or a damage) this reader does not read; h5py reads the file instead."""


class Message(NamedTuple):
    """One object header message: its type and its body's bytes (a tuple: hundreds are made per file)."""

    kind: int
    body: bytes


class File:
    """An HDF5 file's bytes (a whole file, or an uncompressed zip member: the window `start`..`start+size`)."""

    def __init__(self, path: str, start: int = 0, size: int | None = None) -> None:
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._start = start
        self._size = len(self._map) - start if size is None else size
        if self._start + self._size > len(self._map):
            self.close()
            raise Unsupported("the HDF5 window runs past the end of the file")
        self._headers: dict[int, list[Message]] = {}
        self._heaps: dict[int, dict[int, bytes]] = {}
        self.nodes: dict[int, Any] = {}
        """Address -> the node built on it (`adapters.h5_nodes`), so a group's members are listed once."""
        try:
            self.root = self._superblock()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._map.close()

    def read(self, address: int, length: int) -> bytes:
        """`length` bytes at `address`; Unsupported past the end of the file's data (the library refuses those)."""
        if address < 0 or length < 0 or address + length > self._eoa:
            raise Unsupported(f"address {address}+{length} is past the end of the file's data")
        return self._map[self._start + address:self._start + address + length]

    def uint(self, data: bytes, offset: int, size: int) -> int:
        if offset + size > len(data):
            raise Unsupported("a field runs past its message")
        return int.from_bytes(data[offset:offset + size], "little")

    def _superblock(self) -> int:
        """The root group's object header address, after the checks the library makes on opening."""
        self._eoa = self._size
        head = self.read(0, 24)
        if head[:8] != SIGNATURE or head[8] not in (0, 1):
            raise Unsupported("not a version 0 or 1 superblock at offset 0")
        self.offsets, self.lengths = head[13], head[14]
        if self.offsets not in (2, 4, 8) or self.lengths not in (2, 4, 8):
            raise Unsupported("unusual offset or length sizes")
        at = 24 if head[8] == 0 else 28
        fields = self.read(at, 4 * self.offsets + 2 * self.offsets)
        base, _, eof = (self.uint(fields, i * self.offsets, self.offsets) for i in range(3))
        if base != 0 or eof > self._size:  # a truncated file: h5py gives the library's own error
            raise Unsupported("a base address, or a file shorter than its superblock says")
        self._eoa = eof
        return self.uint(fields, 5 * self.offsets, self.offsets)

    def messages(self, address: int) -> list[Message]:
        """The messages of the version-1 object header at `address`, its continuation blocks followed."""
        if address in self._headers:
            return self._headers[address]
        prefix = self.read(address, 16)
        if prefix[0] != 1:
            raise Unsupported("not a version 1 object header")
        count, size = struct.unpack_from("<H4xI", prefix, 2)
        blocks, found = [(address + 16, size)], []
        while blocks:
            start, length = blocks.pop(0)
            block, at = self.read(start, length), 0
            while at + 8 <= length:
                kind, body_size, flags = struct.unpack_from("<HHB", block, at)
                body = block[at + 8:at + 8 + body_size]
                if len(body) < body_size or flags & ~0x01 or kind not in KNOWN:  # 0x01: constant
                    raise Unsupported(f"object header message {kind:#x} (flags {flags:#x})")
                at += 8 + body_size
                found.append(Message(kind, body))
                if kind == CONTINUATION:
                    blocks.append((self.uint(body, 0, self.offsets), self.uint(body, self.offsets, self.lengths)))
            if at != length:
                raise Unsupported("an object header block does not end on a message")
            if len(found) > count:
                break
        if len(found) != count:
            raise Unsupported(f"object header at {address} holds {len(found)} messages, says {count}")
        self._headers[address] = found = [m for m in found if m.kind not in (NIL, CONTINUATION)]
        return found

    def members(self, btree: int, heap: int) -> list[tuple[str, int]]:
        """A symbol-table group's (name, object header address) pairs, in the B-tree's (name) order.

        The names must be in strictly increasing order and within their B-tree keys, as the library's
        look-ups by name assume; a tree that is not (a damaged file) is left to h5py."""
        head = self.read(heap, 8 + 2 * self.lengths + self.offsets)
        if head[:4] != b"HEAP" or head[4] != 0:
            raise Unsupported("not a local heap")
        names = self.read(self.uint(head, 8 + 2 * self.lengths, self.offsets), self.uint(head, 8, self.lengths))
        self._free_list(names, self.uint(head, 8 + self.lengths, self.lengths))
        found: list[tuple[bytes, int]] = []
        self._node(btree, None, names, found)
        if any(a[0] >= b[0] for a, b in zip(found, found[1:])):
            raise Unsupported("a group's names are out of order")
        return [(name.decode("utf-8"), address) for name, address in found]

    def _free_list(self, names: bytes, offset: int) -> None:
        """The checks the library makes on a local heap's free blocks (1 ends the list)."""
        n, seen = self.lengths, set()
        while offset != 1:
            if offset + 2 * n > len(names) or offset in seen:
                raise Unsupported("a bad local heap free list")
            seen.add(offset)
            following, size = self.uint(names, offset, n), self.uint(names, offset + n, n)
            if following == 0 or offset + size > len(names):
                raise Unsupported("a bad local heap free list")
            offset = following

    def _node(self, address: int, above: int | None, names: bytes, found: list[tuple[bytes, int]]) -> None:
        o, n = self.offsets, self.lengths
        head = self.read(address, 8 + 2 * o)
        level, entries = head[5], struct.unpack_from("<H", head, 6)[0]
        if head[:4] != b"TREE" or head[4] != 0 or (above is not None and level >= above):
            raise Unsupported("not a group B-tree node")
        body = self.read(address + 8 + 2 * o, entries * (n + o) + n)
        keys = [_name(names, self.uint(body, index * (n + o), n)) for index in range(entries + 1)]
        for index in range(entries):
            start = len(found)
            child = self.uint(body, index * (n + o) + n, o)
            if level:
                self._node(child, level, names, found)
            else:
                self._symbols(child, names, found)
            if any(not keys[index] < name <= keys[index + 1] for name, _ in found[start:]):
                raise Unsupported("a group B-tree child holds names outside its keys")

    def _symbols(self, address: int, names: bytes, found: list[tuple[bytes, int]]) -> None:
        o = self.offsets
        head = self.read(address, 8)
        if head[:4] != b"SNOD" or head[4] != 1:
            raise Unsupported("not a symbol table node")
        size = 2 * o + 24
        count = struct.unpack_from("<H", head, 6)[0]
        body = self.read(address + 8, count * size)
        for index in range(count):
            at = index * size
            if self.uint(body, at + 2 * o, 4) not in (0, 1):  # 2: a soft link; others: a damage
                raise Unsupported("a soft link or an unknown symbol table entry cache type")
            found.append((_name(names, self.uint(body, at, o)), self.uint(body, at + o, o)))

    def heap_object(self, collection: int, index: int) -> bytes:
        """Object `index` of the global heap collection at `collection` (where variable-length strings live)."""
        if collection not in self._heaps:
            self._heaps[collection] = self._collection(collection)
        objects = self._heaps[collection]
        if index not in objects:
            raise Unsupported(f"global heap object {index} is not in its collection")
        return objects[index]

    def _collection(self, address: int) -> dict[int, bytes]:
        n = self.lengths
        head = self.read(address, 8 + n)
        if head[:4] != b"GCOL" or head[4] != 1:
            raise Unsupported("not a global heap collection")
        size = self.uint(head, 8, n)
        data, at, objects = self.read(address, size), 8 + n, {}
        while at + 8 + n <= size:
            index = struct.unpack_from("<H", data, at)[0]
            length = self.uint(data, at + 8, n)
            if index == 0:
                break
            objects[index] = data[at + 8 + n:at + 8 + n + length]
            if len(objects[index]) < length:
                raise Unsupported("a global heap object runs past its collection")
            at += 8 + n + (length + 7) // 8 * 8
        return objects


def _name(heap: bytes, offset: int) -> bytes:
    """The NUL-terminated name at `offset` in a local heap's data."""
    end = heap.find(b"\0", offset)
    if offset >= len(heap) or end < 0:
        raise Unsupported("a link name runs past its heap")
    return heap[offset:end]
