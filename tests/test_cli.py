"""The `audit` command: exit codes, one-line errors, formats, and no framework import for ONNX."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support.onnx_graphs import conv_dense_graph, save

from auditor.cli import main
from auditor.cli_args import parse_shape

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def onnx_file(tmp_path):
    pytest.importorskip("onnx")
    return save(conv_dense_graph(), str(tmp_path))


def test_consistent_model_exits_0_and_prints_the_table(onnx_file, capsys):
    assert main([onnx_file]) == 0
    out = capsys.readouterr().out
    assert "(3*3*3+1)*8 = 224" in out and "Total params: 260" in out


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown", "table"])
def test_every_format_renders(onnx_file, capsys, fmt):
    assert main([onnx_file, "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert json.loads(out)["totals"]["reported"] == 260
    else:
        assert "224" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/model.onnx"], "no such file"),
        (["model.xyz"], "no such file"),
        ([], "name a MODEL"),
        (["--format", "yaml", "x.onnx"], "invalid choice"),
        (["x.onnx", "--input-shape", "1xAx3"], "not like 1x3x224x224"),
    ],
)
def test_bad_usage_and_input_exit_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"not onnx at all", b"\x08\x07\x12\x04junk"])
def test_unreadable_onnx_files_exit_2(tmp_path, capsys, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    assert main([str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"audit: error: {path}")


def test_strict_fails_on_unverified_layers(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    proto = conv_dense_graph()
    proto.graph.node[1].op_type = "MysteryActivation"
    path = save(proto, str(tmp_path))
    assert main([path]) == 0
    assert main([path, "--strict"]) == 1
    assert "MysteryActivation" in capsys.readouterr().out
    assert onnx is not None


def test_each_continues_after_a_bad_file(tmp_path, capsys):
    pytest.importorskip("onnx")
    good = save(conv_dense_graph(), str(tmp_path), "good.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    assert main([str(tmp_path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    reports = json.loads(captured.out)["reports"]
    assert [r.get("error") is None for r in reports] == [False, True]
    assert reports[1]["model"]["source"] == good and "bad.onnx" in captured.err


def test_parse_shape():
    assert parse_shape("1x3x224x224") == (1, 3, 224, 224)
    assert parse_shape("1,128") == (1, 128)


def test_audit_of_an_onnx_file_imports_neither_torch_nor_tensorflow(onnx_file):
    """Run the CLI where importing torch, tensorflow or keras fails, as on a machine without them."""
    code = (
        "import sys\n"
        "for name in ('torch', 'tensorflow', 'keras'):\n"
        "    sys.modules[name] = None\n"
        "from auditor.cli import main\n"
        f"status = main([{onnx_file!r}])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras') and sys.modules[m]]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout and "224" in done.stdout


def test_the_console_script_and_module_entry_point_run(onnx_file):
    done = subprocess.run([sys.executable, "-m", "auditor", onnx_file, "--format", "json"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["schema"] == "nn-auditor/report@1"


@pytest.mark.parametrize("depth", ["0", "-1", "two"])
def test_depth_below_one_is_a_usage_error(onnx_file, capsys, depth):
    assert main([onnx_file, "--depth", depth]) == 2
    err = capsys.readouterr().err
    assert "--depth" in err and err.count("\n") == 1


def test_a_table_given_as_second_model_hints_at_expect(onnx_file, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("layer,params\nconv,224\nfc,36\n")
    assert main([onnx_file, str(table)]) == 2
    assert f"audit {onnx_file} --expect {table}" in capsys.readouterr().err


def test_expectation_columns_are_in_the_help(capsys):
    from auditor.expect import HYPER_COLUMNS

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "layer and params (required)" in text and all(column in text for column in HYPER_COLUMNS)


def test_debug_shows_the_traceback_and_still_exits_2(onnx_file, capsys, monkeypatch):
    import auditor.count

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(auditor.count, "audit_ir", broken)
    assert main([onnx_file]) == 2
    assert capsys.readouterr().err == "audit: error: ZeroDivisionError: a bug (rerun with --debug for details)\n"
    assert main([onnx_file, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("audit: error: ZeroDivisionError: a bug (rerun with --debug for details)\n")


def test_per_side_options_need_two_models(onnx_file, capsys):
    assert main([onnx_file, "--left-input-shape", "1x3x16x16"]) == 2
    assert "for a diff of two models" in capsys.readouterr().err


def test_per_side_input_shapes_read_each_side_with_its_own(onnx_file, capsys):
    """The same NCHW model on both sides: a shape for one side only must not reach the other."""
    args = [onnx_file, onnx_file, "--format", "json"]
    assert main([*args, "--input-shape", "1x3x16x16"]) == 0
    capsys.readouterr()
    assert main([*args, "--left-input-shape", "1x3x16x16", "--right-input-shape", "1x16x16x3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "16 channels" in err  # the right side alone got the NHWC shape
    assert main([*args, "--input-shape", "1x16x16x3", "--left-input-shape", "1x3x16x16",
                 "--right-input-shape", "1x3x16x16"]) == 0


def test_missing_external_data_is_audited_from_dims_and_fails_only_strict(tmp_path, capsys):
    pytest.importorskip("onnx")
    from support.onnx_graphs import point_first_weight_at

    path = save(point_first_weight_at(conv_dense_graph(), "weights.bin"), str(tmp_path))
    assert main([path, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["reported"] == 260
    assert report["caveats"] == ["external data file 'weights.bin' (1 tensor) is absent: counted from the graph's "
                                 "dims, the weights themselves were not checked"]
    assert main([path, "--strict"]) == 1
    assert "Not checked (--strict fails):" in capsys.readouterr().out


def test_a_keras_nhwc_model_against_its_pytorch_nchw_port_with_macs_on_both_sides(tmp_path, capsys, monkeypatch):
    """Issue 17: each side of a diff gets its own input layout, so both sides have MACs to compare."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3), keras.layers.Flatten(),
                            keras.layers.Dense(10)])
    net.save(str(tmp_path / "net.keras"))
    (tmp_path / "port.py").write_text("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Conv2d(1, 8, 3), "
                                      "nn.Flatten(), nn.Linear(8 * 26 * 26, 10))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    args = ["net.keras", "port:build", "--format", "json"]
    assert main([*args, "--left-input-shape", "1x28x28x1", "--right-input-shape", "1x1x28x28"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["left"]["macs"] == document["right"]["macs"] == 26 * 26 * 8 * 9 + 26 * 26 * 8 * 10
    sys.modules.pop("port", None)


def test_a_reader_that_closes_the_pipe_gets_no_error_line(onnx_file):
    """`audit m.onnx --format csv | head -1`: the closed pipe is the reader's choice, not an error to report."""
    script = ("import os, sys\n"
              "read, write = os.pipe()\n"
              "os.close(read)\n"                      # the reader is gone before anything is written
              "os.dup2(write, 1)\n"
              "from auditor.cli import main\n"
              f"sys.exit(main([{str(onnx_file)!r}, '--format', 'csv']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 141
    assert done.stderr == ""
