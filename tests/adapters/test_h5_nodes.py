"""The HDF5 header reader gives what h5py gives, and refuses (for h5py to read) what it does not read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

h5py = pytest.importorskip("h5py")
np = pytest.importorskip("numpy")

from adapters import h5_nodes  # noqa: E402
from adapters.h5_datasets import dataset  # noqa: E402
from adapters.h5_headers import Unsupported  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def listing(group: Any) -> list[tuple[str, Any]]:
    """Every object below `group`: datasets as their `Dataset` header, groups by name, with their string attributes."""
    found: list[tuple[str, Any]] = []

    def visit(name: str) -> None:
        item = group[name]
        attrs = {key: _plain(item.attrs.get(key)) for key in item.attrs}
        found.append((name, dataset(name, item) if hasattr(item, "shape") else "group", attrs))

    group.visit(visit)
    return found


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, np.ndarray | list) else value


def fill(store: Any) -> None:
    """Nested groups (enough members to split the group B-tree), datasets of each plain dtype, string attributes."""
    store.attrs["config"] = json.dumps({"layers": ["é", 1]})
    store.attrs["fixed"] = np.bytes_(b"fixed-length")
    layers = store.create_group("layers")
    for index in range(60):
        variables = layers.create_group(f"layer_{index}").create_group("vars")
        variables.attrs["name"] = f"name_{index}"
        variables.create_dataset("0", shape=(3, index + 1), dtype="float32")
        variables.create_dataset("1", shape=(index + 1,), dtype="float16")
    kinds = store.create_group("kinds")
    for dtype in ("int8", "uint8", "int16", "int32", "int64", "uint64", "float64"):
        kinds.create_dataset(dtype, shape=(2, 0, 5), dtype=dtype)
    kinds.create_dataset("scalar", data=np.float32(1.5))
    kinds.create_dataset("compact", shape=(3,), dtype="int32", data=[1, 2, 3],
                         dcpl=_compact_layout())
    kinds.attrs["names"] = ["kernel", "bias"]
    kinds.attrs["fixed_names"] = np.array([b"kernel", b"bias"])
    kinds.attrs["empty"] = np.array([])


def _compact_layout() -> Any:
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_layout(h5py.h5d.COMPACT)
    return plist


def test_the_reader_lists_what_h5py_lists(tmp_path: Path) -> None:
    path = tmp_path / "store.h5"
    with h5py.File(path, "w") as store:
        fill(store)
    with h5py.File(path, "r") as store:
        expected = listing(store)
        expected_root = {key: _plain(store.attrs[key]) for key in store.attrs}
    with h5_nodes.opened(str(path)) as root:
        assert listing(root) == expected
        assert {key: root.attrs.get(key) for key in root.attrs} == expected_root
        assert str(root["kinds/int8"].dtype) == "int8" and root["kinds/scalar"].shape == ()
        assert "layers/layer_7/vars" in root and "layers/nothing" not in root and root.get("nothing") is None


def test_a_zip_member_is_read_in_place(tmp_path: Path) -> None:
    inner = tmp_path / "model.weights.h5"
    with h5py.File(inner, "w") as store:
        fill(store)
    archive_path = tmp_path / "model.keras"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.write(inner, "model.weights.h5")
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo("model.weights.h5")
    from adapters.keras_files import _data_offset

    with h5py.File(inner, "r") as store:
        expected = listing(store)
    with h5_nodes.opened(str(archive_path), _data_offset(str(archive_path), info), info.file_size) as root:
        assert listing(root) == expected


def _latest(path: Path) -> None:
    with h5py.File(path, "w", libver="latest") as store:
        store.create_dataset("w", shape=(2,), dtype="float32")


def _big_endian(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.create_dataset("w", shape=(2,), dtype=">f4")


def _opaque(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.create_dataset("w", shape=(2,), dtype="V2")


def _chunked(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.create_dataset("w", shape=(64, 64), dtype="float32", chunks=(8, 8), compression="gzip")


def _soft_link(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.create_dataset("w", shape=(2,), dtype="float32")
        store["alias"] = h5py.SoftLink("/w")


def _numeric_attribute(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.attrs["n"] = 3


def _truncated(path: Path) -> None:
    with h5py.File(path, "w") as store:
        store.create_dataset("w", data=np.zeros(4096, "float32"))
    path.write_bytes(path.read_bytes()[:-100])


@pytest.mark.parametrize("write", [_latest, _big_endian, _opaque, _chunked, _soft_link, _numeric_attribute,
                                   _truncated])
def test_what_the_reader_does_not_read_is_refused(tmp_path: Path, write: Any) -> None:
    path = tmp_path / "store.h5"
    write(path)
    with pytest.raises(Unsupported), h5_nodes.opened(str(path)) as root:
        listing(root)
        [root.attrs.get(key) for key in root.attrs]


def test_a_keras_file_is_read_without_importing_h5py_or_numpy(tmp_path: Path) -> None:
    """A .keras and a legacy .h5 of the layout h5py writes by default: header reads alone, no h5py, no numpy."""
    keras = pytest.importorskip("keras")
    from support.keras_models import mixed_model

    model = mixed_model()
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"mixed{suffix}")
    code = (
        "import sys, auditor\n"
        "for path in sys.argv[1:]:\n"
        "    assert auditor.audit(path).totals.reported > 0\n"
        "print('LOADED', [m for m in ('h5py', 'numpy') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "mixed.keras"), str(tmp_path / "mixed.h5")],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    del keras


def test_a_model_file_the_reader_refuses_is_read_by_h5py(tmp_path: Path) -> None:
    """The fallback: a legacy .h5 copied into the newer layout (libver="latest") gives the same report."""
    pytest.importorskip("keras")
    from support.keras_models import mixed_model

    import auditor
    from auditor.report.audit import audit_to_dict

    mixed_model().save(tmp_path / "mixed.h5")
    with h5py.File(tmp_path / "mixed.h5", "r") as source, \
            h5py.File(tmp_path / "latest.h5", "w", libver="latest") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        for name in source:
            source.copy(source[name], target, name)
    with pytest.raises(Unsupported), h5_nodes.opened(str(tmp_path / "latest.h5")):
        pass
    reports = [audit_to_dict(auditor.audit(str(tmp_path / name))) for name in ("mixed.h5", "latest.h5")]
    for report in reports:
        report.pop("model")
    assert reports[0] == reports[1]
