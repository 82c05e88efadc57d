"""Read `.keras` archives and legacy `.h5` files into the IR, without Keras when the config allows.

Both hold the model's config (a `.keras` archive's config.json, a legacy `.h5`'s model_config
attribute) and its weights; the weights are read from their HDF5 headers only (dims and dtypes, never
data; `adapters.keras_store`).  The config is translated layer by layer and its shapes propagated by
the rules (`adapters.keras_config`): no TensorFlow or Keras import, no weight memory.  Where that cannot
be done faithfully (a class of someone's own, a Lambda, a layer no rule shapes, weights that do not fit
the config) the model is rebuilt by Keras with safe_mode on (`adapters.keras_rebuild`), and the report
says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import struct
import zipfile
from collections import Counter
from collections.abc import Callable
from typing import Any

from adapters import h5_nodes
from adapters.h5_headers import Unsupported
from adapters.keras_config import NeedsKeras, read_config
from adapters.keras_store import StoredModel, read_keras_weights, read_legacy_weights
from auditor.errors import InputError, one_line
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError, zipfile.BadZipFile,
                json.JSONDecodeError)
"""What h5py, zipfile and json raise on damaged files (h5py: RuntimeError for a corrupt heap)."""

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A config.json larger than this is refused before it is decompressed (a zip bomb, not a model)."""

Rebuild = Callable[[dict[str, Any]], Callable[[], Any]]


def read_keras_file(path: str, options: AuditOptions | None = None, **values: Any) -> ModelIR:
    """A `.keras` or `.h5` file as a ModelIR; InputError (one line) when it cannot be read."""
    options = resolve(options, values)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    options = dataclasses.replace(options, source=options.source or path)
    if zipfile.is_zipfile(path):
        return _read_archive(path, options)
    if path.lower().endswith((".h5", ".hdf5")) or _is_hdf5(path):
        return _read_legacy(path, options)
    raise InputError(f"{path}: not a Keras archive (.keras zip) or legacy HDF5 (.h5) file")


def _is_hdf5(path: str) -> bool:
    """True when the file starts with the HDF5 signature (a legacy model saved under another name)."""
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, refused (ValueError) when its declared size is over `limit`; never inflated past it."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{name} would inflate to {info.file_size:,} bytes (limit {limit:,})")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} inflates past {limit:,} bytes")
    return data


def _read_archive(path: str, options: AuditOptions) -> ModelIR:
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(_read_member(archive, "config.json", MAX_CONFIG_BYTES))
            stored = _archive_weights(archive) if "model.weights.h5" in archive.namelist() else None
    except _READ_ERRORS as err:
        raise InputError(f"{path}: not a readable Keras archive ({one_line(err)})") from None
    return _from_config(path, config, stored, "model.weights.h5", options, legacy=False)


def _archive_weights(archive: zipfile.ZipFile) -> StoredModel:
    """What model.weights.h5 stores, read from the dataset headers only (by h5py when they are of a layout
    `adapters.h5_headers` does not read, or the member is compressed)."""
    info = archive.getinfo("model.weights.h5")
    stored = info.compress_type == zipfile.ZIP_STORED and archive.filename is not None
    if stored:
        with contextlib.suppress(*HEADER_READ_FAILURES):
            with h5_nodes.opened(str(archive.filename), _data_offset(str(archive.filename), info),
                                 info.file_size) as store:
                return read_keras_weights(store)
    import h5py

    opener = (lambda: _StoredMember(str(archive.filename), info)) if stored else (lambda: archive.open(info))
    with opener() as raw, h5py.File(raw, "r") as store:
        return read_keras_weights(store)


HEADER_READ_FAILURES = (Unsupported, struct.error, LookupError, ValueError, TypeError, ArithmeticError, OSError)
"""What the header reader raises on a file it does not read; h5py then reads it, or gives its own error."""


def _data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """Where an uncompressed member's bytes start in the archive file (after its local header)."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise ValueError(f"damaged local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


class _StoredMember(io.RawIOBase):
    """An uncompressed zip member as a seekable window on the archive file.

    h5py seeks back and forth to read dataset headers; through `ZipFile.open` every backward seek
    re-reads and re-checksums the member from its start (seconds for a ResNet50). Here a seek is free,
    and only the header bytes h5py asks for are read.
    """

    def __init__(self, path: str, info: zipfile.ZipInfo) -> None:
        self._start = _data_offset(path, info)
        self._file = open(path, "rb")  # noqa: SIM115  (closed by close())
        self._size = info.file_size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = max(0, min(len(buffer), self._size - self._position))
        self._file.seek(self._start + self._position)
        data = self._file.read(wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def _read_legacy(path: str, options: AuditOptions) -> ModelIR:
    """A legacy .h5 file: its model_config attribute and the datasets under model_weights."""
    try:
        try:
            with h5_nodes.opened(path) as store:
                config, stored = _legacy_parts(store)
        except HEADER_READ_FAILURES:  # a layout the header reader does not read (or a damage): ask h5py
            import h5py

            with h5py.File(path, "r") as store:
                config, stored = _legacy_parts(store)
    except _WeightsOnly:
        from adapters.keras_weights import read_keras_weights as read_weights_file

        return read_weights_file(path, options)
    except _READ_ERRORS as err:
        raise InputError(f"{path}: not a readable Keras HDF5 file ({one_line(err)})") from None
    return _from_config(path, config, stored, "model_weights", options, legacy=True)


def _legacy_parts(store: Any) -> tuple[dict[str, Any], StoredModel | None]:
    """An open legacy .h5's config (from its model_config attribute) and its model_weights."""
    raw = store.attrs.get("model_config")
    if raw is None:
        raise _WeightsOnly()
    config = json.loads(raw.decode("utf-8") if hasattr(raw, "decode") else raw)
    return config, read_legacy_weights(store["model_weights"]) if "model_weights" in store else None


class _WeightsOnly(Exception):
    """The .h5 has no model_config: a weights-only file, read as a checkpoint."""


def _from_config(path: str, config: dict[str, Any], stored: StoredModel | None, where: str,
                 options: AuditOptions, legacy: bool) -> ModelIR:
    """The IR from the config and the stored weight shapes; Keras rebuilds the model only when they cannot
    give it faithfully (the report's note says why)."""
    if stored is not None:
        try:
            return read_config(config, stored, options)
        except NeedsKeras as err:
            reason = str(err)
    else:
        reason = f"the file stores no {where}"
    from adapters import keras_rebuild

    build = keras_rebuild.from_legacy_config(config) if legacy else keras_rebuild.from_archive_config(config)
    shapes = Counter(v.shape for v in stored.root.variables) if stored is not None else None
    ir = keras_rebuild.read_with_keras(path, build, shapes, where, options)
    ir.notes.append(f"read with Keras because {reason}")
    return ir
