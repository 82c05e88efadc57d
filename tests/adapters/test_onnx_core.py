"""adapters.onnx_core: onnx's proto classes and C++ library without `onnx/__init__.py`, checked against the
onnx package's own functions and its backend test files (written by onnx's authors, not here)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

onnx = pytest.importorskip("onnx")

from adapters import onnx_core  # noqa: E402
from adapters.onnx_schema import _default_value  # noqa: E402
from adapters.onnx_shapes import _value_info  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKEND = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
BACKEND_FILES = sorted(glob.glob(os.path.join(BACKEND, "**", "model.onnx"), recursive=True))
SAMPLE = [f for f in BACKEND_FILES if any(k in f for k in ("test_Conv2d/", "test_PixelShuffle/", "test_gru_"))]


def test_the_backend_data_is_there() -> None:
    assert len(BACKEND_FILES) > 100 and len(SAMPLE) >= 2


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_parse_and_inference_give_what_the_onnx_package_gives(path: str) -> None:
    with open(path, "rb") as file:
        ours = onnx_core.parse_model(file.read())
    theirs = onnx.load(path, load_external_data=False)
    assert type(ours) is onnx.ModelProto and ours == theirs
    inferred = onnx_core.infer_shapes(ours, strict_mode=True, data_prop=True)
    assert inferred == onnx.shape_inference.infer_shapes(theirs, strict_mode=True, data_prop=True)
    assert len(inferred.graph.value_info) > 0 or len(inferred.graph.node) == 1


def test_trailing_bytes_are_rejected_as_onnx_load_rejects_them() -> None:
    from google.protobuf.message import DecodeError

    data = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])).SerializeToString()
    with pytest.raises(DecodeError):
        onnx.load_from_string(data + b"\x00")
    with pytest.raises(DecodeError):
        onnx_core.parse_model(data + b"\x00")


def test_strict_inference_raises_the_packages_own_error() -> None:
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "g",
        [helper.make_tensor_value_info("a", 1, [2, 3]), helper.make_tensor_value_info("b", 1, [4, 5])],
        [helper.make_tensor_value_info("c", 1, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert onnx_core.inference_error() is onnx.shape_inference.InferenceError
    with pytest.raises(onnx.shape_inference.InferenceError):
        onnx_core.infer_shapes(model, strict_mode=True)


def test_every_schema_default_reads_as_onnx_defs_reads_it() -> None:
    """All attributes of every operator version onnx ships: the raw default parsed here equals the
    `default_value` property that `onnx.defs` adds to the C++ class."""
    compared = 0
    for schema in onnx.defs.get_all_schemas_with_history():
        for attribute in schema.attributes.values():
            theirs = attribute.default_value
            ours = _default_value(attribute)
            assert (ours is None) == (not theirs.type)
            if ours is not None:
                assert ours == theirs
                compared += 1
    assert compared > 500


@pytest.mark.parametrize("dims", [[2, 3], ["batch", 768], [None, 4], []])
def test_value_info_is_what_helper_makes(dims: list) -> None:
    assert _value_info("x", 7, dims) == onnx.helper.make_tensor_value_info("x", 7, dims)


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_onnx_audit_imports_neither_the_onnx_package_nor_numpy_and_a_later_import_onnx_shares_its_classes() -> None:
    code = (
        "import json, sys\n"
        "import auditor\n"
        "from auditor.report.audit import audit_to_dict\n"
        f"paths = {SAMPLE!r}\n"
        "before = [json.dumps(audit_to_dict(auditor.audit(p)), sort_keys=True, default=str) for p in paths]\n"
        "print('ALONE', 'onnx' in sys.modules, 'numpy' in sys.modules)\n"
        "import onnx\n"
        "from onnx import numpy_helper, shape_inference\n"
        "model = onnx.load(paths[0], load_external_data=False)\n"
        "print('SHARED', type(model) is sys.modules['onnx.onnx_ml_pb2'].ModelProto,\n"
        "      onnx.defs.get_schema('Conv').attributes['auto_pad'].default_value.s == b'NOTSET',\n"
        "      len(shape_inference.infer_shapes(model).graph.node) > 0,\n"
        "      numpy_helper.to_array(onnx.helper.make_tensor('t', 1, [2], [1.0, 2.0])).tolist() == [1.0, 2.0])\n"
        "print('ATTRIBUTES', onnx.onnx_cpp2py_export.checker.ValidationError.__name__,\n"
        "      onnx.onnx_ml_pb2.ModelProto is onnx.ModelProto, type(onnx.__loader__).__name__,\n"
        "      type(onnx.__spec__.loader).__name__)\n"
        "after = [json.dumps(audit_to_dict(auditor.audit(p)), sort_keys=True, default=str) for p in paths]\n"
        "print('SAME', before == after)\n"
    )
    out = _run(code)
    assert "ALONE False False" in out and "SHARED True True True True" in out and "SAME True" in out
    assert "ATTRIBUTES ValidationError True SourceFileLoader SourceFileLoader" in out


def test_threads_that_read_their_first_onnx_file_at_once_all_get_complete_modules() -> None:
    """Eight threads at once, the modules not loaded yet (a half-built proto module failed 1-7 of them in
    19 of 30 processes before the modules were run before being registered), in three fresh processes."""
    code = (
        "import threading\n"
        "import auditor\n"
        "errors, start = [], threading.Barrier(8)\n"
        "def work():\n"
        "    start.wait()\n"
        "    try:\n"
        f"        auditor.audit({SAMPLE[0]!r})\n"
        "    except Exception as err:\n"
        "        errors.append(repr(err))\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print('ERRORS', errors)\n"
    )
    for _ in range(3):
        assert "ERRORS []" in _run(code)


def test_an_unexpected_package_layout_falls_back_to_import_onnx() -> None:
    code = (
        "import sys\n"
        "from adapters import onnx_core\n"
        "def moved(folder): raise ImportError('moved')\n"
        "onnx_core._extension_path = moved\n"
        "import auditor\n"
        f"report = auditor.audit({SAMPLE[0]!r})\n"
        "print('FELL BACK', 'onnx' in sys.modules, report.totals.reported > 0)\n"
    )
    assert "FELL BACK True True" in _run(code)


def test_without_onnx_the_read_says_so_in_one_line() -> None:
    code = (
        "import sys\n"
        "sys.modules['onnx'] = None  # as on a machine without it\n"
        "from auditor.cli import main\n"
        f"sys.exit(main([{SAMPLE[0]!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "audit: error: reading this model needs onnx, which is not installed"


@pytest.mark.parametrize(("attribute", "value"), [
    ("value_float", 2.5), ("value_floats", [1.0, -0.5, float("inf")]), ("value_int", -3),
    ("value_ints", [1, 2**62, -(2**63)]),
])
def test_a_constants_number_attribute_becomes_the_tensor_onnx_helper_makes(attribute: str, value: object) -> None:
    from adapters.onnx_graph import constant_tensor

    node = onnx.helper.make_node("Constant", [], ["y"], **{attribute: value})
    values = value if isinstance(value, list) else [value]
    dims = [len(values)] if isinstance(value, list) else []
    expected = onnx.helper.make_tensor("y", 1 if "float" in attribute else 7, dims, values)
    assert constant_tensor(node).SerializeToString() == expected.SerializeToString()
