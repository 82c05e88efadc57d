"""What a model file is, from its first bytes, before any framework is imported.

Importing TensorFlow costs seconds and torch about one; a file whose bytes cannot be what its
extension says (a text file named `.keras`, an ONNX graph named `.h5`) is refused here in
milliseconds, with a line that says what the bytes look like instead.
"""

from __future__ import annotations

import os
import zipfile

from auditor.errors import InputError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)
"""HDF5 puts its signature at 0 or after a user block of 512, 1024, 2048 ... bytes."""

_PROTOBUF_WIRE_TYPES = (0, 1, 2, 5)
"""Varint, 64-bit, length-delimited, 32-bit: the wire types a ModelProto's fields use."""


def is_hdf5(path: str) -> bool:
    """True when the file carries the HDF5 signature at one of the offsets HDF5 allows."""
    with open(path, "rb") as handle:
        for offset in HDF5_OFFSETS:
            handle.seek(offset)
            if handle.read(8) == HDF5_SIGNATURE:
                return True
    return False


def zip_names(path: str) -> list[str] | None:
    """The member names of a zip archive (central directory only, nothing inflated); None if not a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def looks_like_protobuf(head: bytes) -> bool:
    """The first bytes start with a plausible protobuf field key (an ONNX ModelProto: ir_version, graph ...)."""
    if not head:
        return False
    key, shift, index = 0, 0, 0
    while index < min(len(head), 5):
        byte = head[index]
        key |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    else:
        return False
    field, wire = key >> 3, key & 7
    return 1 <= field <= 100 and wire in _PROTOBUF_WIRE_TYPES


def _is_text(head: bytes) -> bool:
    """Printable ASCII only: protobuf serializers write ir_version (key 0x08) first, so never a model."""
    return all(32 <= b < 127 or b in b"\t\r\n" for b in head)


def describe(path: str) -> str:
    """What the bytes look like, for an error line: "a zip archive", "an HDF5 file", "text" ..."""
    names = zip_names(path)
    if names is not None:
        if "config.json" in names:
            return "a Keras archive (.keras)"
        if any(n.endswith(("/data.pkl", "/constants.pkl")) or n.endswith(".pkl") for n in names):
            return "a PyTorch zip archive (.pt2 / .pt)"
        return "a zip archive"
    if is_hdf5(path):
        return "an HDF5 file (.h5)"
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head[:1] == b"\x80":
        return "a Python pickle"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    return "text" if all(b >= 32 or b in b"\t\r\n" for b in head) else "binary data"


def _refuse(path: str, expected: str) -> InputError:
    return InputError(f"{path}: not {expected} (the file looks like {describe(path)})")


def check_content(path: str, extension: str) -> None:
    """Refuse `path` (one-line InputError) when its bytes cannot be a model of `extension`'s kind.

    Missing files and extensions this module does not know are left to the readers.
    """
    if not os.path.isfile(path):
        return
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: empty file, not a model")
    if extension == ".keras":
        names = zip_names(path)
        if names is None and not is_hdf5(path):
            raise _refuse(path, "a Keras archive (.keras zip) or legacy HDF5 (.h5) file")
        if names is not None and "config.json" not in names:
            raise InputError(f"{path}: not a readable Keras archive (the zip holds no config.json)")
    elif extension in (".h5", ".hdf5"):
        if not is_hdf5(path) and "config.json" not in (zip_names(path) or []):
            raise _refuse(path, "a Keras HDF5 (.h5) file")
    elif extension == ".pt2":
        if zip_names(path) is None:
            raise _refuse(path, "a torch.export archive (.pt2 is a zip)")
    elif extension == ".onnx":
        with open(path, "rb") as handle:
            head = handle.read(16)
        if zip_names(path) is not None or is_hdf5(path) or _is_text(head) or not looks_like_protobuf(head):
            raise _refuse(path, "a valid ONNX model (a protobuf)")
