"""Read `.keras` archives and legacy `.h5` files into the IR, keeping Keras safe_mode on.

`.keras`: config.json is rebuilt inside `keras.StatelessScope(initialize_variables=False)`, so
every variable gets its shape but no memory and no initial values; the weight shapes stored in
model.weights.h5 are read with h5py (dims only, never data) and must match the rebuilt model's.
A big model therefore audits in about the time Keras takes to build its graph, with little memory.
Legacy `.h5`: the same, from the file's model_config attribute (rebuilt the way Keras's own h5 loader
does) and the dataset shapes under model_weights.  Files whose config cannot be rebuilt that way:
`keras.saving.load_model(path, safe_mode=True, compile=False)`, which also reads the weight data.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import struct
import zipfile
from collections import Counter
from collections.abc import Callable
from typing import Any

import keras

from adapters.h5_datasets import dataset_shapes
from adapters.keras import deferred_variables, from_model
from auditor.errors import InputError
from auditor.ir import ModelIR
from auditor.options import AuditOptions, resolve

_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError, zipfile.BadZipFile,
                json.JSONDecodeError)
"""What h5py, zipfile and json raise on damaged files (h5py: RuntimeError for a corrupt heap)."""

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A config.json larger than this is refused before it is decompressed (a zip bomb, not a model)."""


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
            stored = _weight_shapes(archive) if "model.weights.h5" in archive.namelist() else None
    except _READ_ERRORS as err:
        raise InputError(f"{path}: not a readable Keras archive ({_reason(err)})") from None
    return _from_config(path, lambda: _from_archive_config(config), stored, "model.weights.h5", options)


def _rebuild(path: str, build: Callable[[], Any], options: AuditOptions) -> tuple[Any, ModelIR | None]:
    """(model, IR) built by `build` with deferred (never allocated) variables; (None, None) if Keras cannot."""
    with deferred_variables():
        try:
            model = _safe(build)
        except _UnsafeError as err:
            raise InputError(_unsafe_message(path, err)) from None
        except Exception:  # noqa: BLE001 - the caller falls back to Keras's own loader
            return None, None
        return model, from_model(model, options)


def _safe(build: Callable[[], Any]) -> Any:
    """Run a Keras deserialization; a refusal by safe_mode becomes an _UnsafeError."""
    try:
        return build()
    except Exception as err:
        if "safe_mode" in str(err):
            raise _UnsafeError(str(err)) from None
        raise


class _UnsafeError(ValueError):
    pass


def _from_archive_config(config: dict[str, Any]) -> Any:
    """The model an archive's config describes, built with safe_mode on and no compile state."""
    config = dict(config)
    config["compile_config"] = None
    return keras.saving.deserialize_keras_object(config, safe_mode=True)


def _from_legacy_config(config: dict[str, Any]) -> Any:
    """The model a legacy .h5 config describes, built as Keras's own h5 loader does, with safe_mode on."""
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
        return saving_utils.model_from_config(config)


def _weight_shapes(archive: zipfile.ZipFile) -> Counter[tuple[int, ...]]:
    """The shape of every weight stored in model.weights.h5, read from the dataset headers only."""
    import h5py

    info = archive.getinfo("model.weights.h5")
    stored = info.compress_type == zipfile.ZIP_STORED and archive.filename is not None
    opener = (lambda: _StoredMember(str(archive.filename), info)) if stored else (lambda: archive.open(info))
    with opener() as raw, h5py.File(raw, "r") as store:
        return dataset_shapes(store)


class _StoredMember(io.RawIOBase):
    """An uncompressed zip member as a seekable window on the archive file.

    h5py seeks back and forth to read dataset headers; through `ZipFile.open` every backward seek
    re-reads and re-checksums the member from its start (seconds for a ResNet50). Here a seek is free,
    and only the header bytes h5py asks for are read.
    """

    def __init__(self, path: str, info: zipfile.ZipInfo) -> None:
        self._file = open(path, "rb")  # noqa: SIM115  (closed by close())
        self._file.seek(info.header_offset)
        header = self._file.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            self._file.close()
            raise ValueError(f"damaged local header for {info.filename}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        self._start = info.header_offset + 30 + name_length + extra_length
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
    """A legacy .h5 file: its model_config attribute and the dataset shapes under model_weights."""
    import h5py

    try:
        with h5py.File(path, "r") as store:
            raw = store.attrs.get("model_config")
            if raw is None:
                raise _WeightsOnly()
            config = json.loads(raw.decode("utf-8") if hasattr(raw, "decode") else raw)
            stored = dataset_shapes(store["model_weights"]) if "model_weights" in store else None
    except _WeightsOnly:
        from adapters.keras_weights import read_keras_weights

        return read_keras_weights(path, options)
    except _READ_ERRORS as err:
        raise InputError(f"{path}: not a readable Keras HDF5 file ({_reason(err)})") from None
    return _from_config(path, lambda: _from_legacy_config(config), stored, "model_weights", options)


class _WeightsOnly(Exception):
    """The .h5 has no model_config: a weights-only file, read as a checkpoint."""


def _from_config(
    path: str, build: Callable[[], Any], stored: Counter[tuple[int, ...]] | None, where: str,
    options: AuditOptions,
) -> ModelIR:
    """The IR of the model `build` rebuilds from the file's config, checked against the stored weight
    shapes; a config Keras cannot rebuild that way goes through `load_model` (safe_mode on)."""
    model, ir = _rebuild(path, build, options)
    if model is None or ir is None:
        return _with_loaded_model(path, options)
    if stored is not None:
        _check_stored_shapes(path, model, stored, where)
    ir.notes.append("read from the file's config and weight shapes (no weight data loaded)")
    return ir


def _check_stored_shapes(path: str, model: Any, stored: Counter[tuple[int, ...]], where: str) -> None:
    """The archive's weights must be exactly the shapes its config builds (else Keras could not load it)."""
    built: Counter[tuple[int, ...]] = Counter(tuple(int(d) for d in v.shape) for v in model.weights)
    if built != stored:
        extra, missing = stored - built, built - stored
        detail = f"stored but not built: {dict(extra)}" if extra else f"built but not stored: {dict(missing)}"
        raise InputError(f"{path}: the weights in {where} do not match the model config ({detail})")


def _with_loaded_model(path: str, options: AuditOptions) -> ModelIR:
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for unreadable files
        if "safe_mode" in str(err):
            raise InputError(_unsafe_message(path, err)) from None
        raise InputError(f"{path}: Keras cannot load this model ({_reason(err)})") from None
    return from_model(model, options)


def _unsafe_message(path: str, err: Exception) -> str:
    return (
        f"{path}: the model contains a Lambda layer with Python bytecode; nn-auditor keeps Keras "
        "safe_mode on and will not run it (rebuild the model from its code and audit the factory)"
    )


def _reason(err: Exception) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
