"""File types by content, before any framework is imported."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from adapters.sniff import HDF5_SIGNATURE, check_content, describe, looks_like_protobuf
from auditor.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("notes.keras", b"hello, not a zip", "looks like text"),
        ("empty.keras", b"", "empty file"),
        ("weights.h5", b"\x00\x01binary junk" * 4, "looks like binary data"),
        ("model.pt2", b"\x80\x04pickled", "looks like a Python pickle"),
        ("graph.onnx", b"just some words here", "looks like text"),
        ("graph.onnx", HDF5_SIGNATURE + b"\0" * 64, "looks like an HDF5 file"),
    ],
)
def test_bytes_that_cannot_be_the_extension_are_refused_with_what_they_look_like(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        check_content(str(path), path.suffix)


def test_a_zip_without_config_is_not_a_keras_archive_and_a_keras_zip_is_not_onnx(tmp_path):
    plain = _zip(tmp_path / "x.keras", {"junk.txt": b"1"})
    with pytest.raises(InputError, match="holds no config.json"):
        check_content(str(plain), ".keras")
    keras_zip = _zip(tmp_path / "y.onnx", {"config.json": b"{}", "model.weights.h5": b""})
    with pytest.raises(InputError, match=r"looks like a Keras archive \(.keras\)"):
        check_content(str(keras_zip), ".onnx")


def test_plausible_files_pass(tmp_path):
    keras_zip = _zip(tmp_path / "m.keras", {"config.json": b"{}"})
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\0" * 512 + HDF5_SIGNATURE + b"\0" * 64)  # after a 512-byte user block
    pt2 = _zip(tmp_path / "m.pt2", {"archive/data.pkl": b""})
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch")  # ir_version 7, producer_name
    for path in (keras_zip, h5, pt2, onnx):
        check_content(str(path), path.suffix)
    check_content(str(tmp_path / "absent.onnx"), ".onnx")  # missing files are the readers' to report
    assert describe(str(pt2)) == "a PyTorch zip archive (.pt2 / .pt)"


def test_protobuf_keys():
    assert looks_like_protobuf(b"\x08\x08")  # field 1 varint: ir_version
    assert looks_like_protobuf(b"\x3a\x80\x01")  # field 7 length-delimited: graph
    assert not looks_like_protobuf(b"\x07")  # wire type 7 does not exist
    assert not looks_like_protobuf(b"\xff\xff\xff\xff\xff\xff")  # unterminated varint
    assert not looks_like_protobuf(b"")


def test_a_non_zip_keras_file_is_refused_without_importing_tensorflow(tmp_path):
    path = tmp_path / "bad.keras"
    path.write_bytes(b"not a zip at all")
    code = (
        "import sys\nfrom auditor.cli import main\n"
        f"status = main([{str(path)!r}])\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'torch', 'h5py'}))\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "LOADED []" in done.stdout, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "looks like text" in done.stderr
