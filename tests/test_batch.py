"""`audit DIR` / `--each` with `--jobs N`: input order, one failure (even a dying worker) never stops the
rest, a summary table, a model column in CSV blocks, a progress bar only on a terminal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from auditor.batch import Outcome, Progress
from auditor.cli import main

pytest.importorskip("onnx")
from support.onnx_graphs import conv_dense_graph, save  # noqa: E402


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """Five files: four good ONNX models and, third in sorted order, one that is not ONNX."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    for name in ("a.onnx", "b.onnx", "d.onnx", "e.onnx"):
        save(conv_dense_graph(), str(folder), name)
    (folder / "c.onnx").write_bytes(b"not a model")
    return folder


def test_a_pool_keeps_input_order_and_goes_on_after_a_bad_file(zoo, capsys):
    assert main([str(zoo), "--jobs", "2", "--format", "json"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    names = ["a.onnx", "b.onnx", "c.onnx", "d.onnx", "e.onnx"]
    sources = [r.get("source") or r["model"]["source"] for r in document["reports"]]
    assert [Path(s).name for s in sources] == names
    assert ["error" in r for r in document["reports"]] == [False, False, True, False, False]
    summary = document["summary"]
    assert [row["status"] for row in summary] == ["ok", "ok", "error", "ok", "ok"]
    assert [row["params"] for row in summary] == [260, 260, None, 260, 260]
    assert all(row["seconds"] >= 0 for row in summary) and summary[0]["verified_fraction"] == 1.0
    assert captured.err.count("\n") == 1 and "c.onnx" in captured.err


def test_the_text_output_ends_with_a_summary_table(zoo, capsys):
    assert main([str(zoo / "a.onnx"), str(zoo / "b.onnx"), "--each"]) == 0
    out = capsys.readouterr().out
    assert out.count("Total params: 260") == 2
    tail = out[out.index("Summary of 2 models"):]
    assert "model" in tail and "verified" in tail and "seconds" in tail and "100.0%" in tail
    assert "2 ok; " in tail and "with 1 job" in tail


def test_a_worker_that_dies_is_reported_and_the_rest_still_audit(zoo, tmp_path, capsys):
    crash = tmp_path / "crash.py"
    crash.write_text("import os\n\ndef boom():\n    os._exit(3)\n")
    specs = [str(zoo / "a.onnx"), f"{crash}:boom", str(zoo / "b.onnx"), str(zoo / "d.onnx")]
    assert main([*specs, "--jobs", "2", "--format", "json"]) == 2
    captured = capsys.readouterr()
    reports = json.loads(captured.out)["reports"]
    assert ["error" in r for r in reports] == [False, True, False, False]
    assert "worker process auditing it died" in reports[1]["error"]
    assert captured.err.count("\n") == 1


def test_csv_blocks_start_with_a_model_column(zoo, capsys):
    assert main([str(zoo / "a.onnx"), str(zoo / "b.onnx"), "--each", "--format", "csv"]) == 0
    blocks = [b for b in capsys.readouterr().out.split("\n\n") if b.strip()]
    assert len(blocks) == 2
    for block, name in zip(blocks, ("a.onnx", "b.onnx")):
        rows = list(csv.reader(io.StringIO(block)))
        assert rows[0][:2] == ["model", "path"]
        assert {Path(r[0]).name for r in rows[1:]} == {name}


def test_a_negative_job_count_is_a_usage_error(zoo, capsys):
    assert main([str(zoo), "--jobs", "-1"]) == 2
    assert "--jobs -1" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_only_on_a_terminal():
    outcome = Outcome("m.onnx", 0, 0.1, "ok")
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(3, stream)
        for _ in range(3):
            progress.advance(outcome)
        progress.write("audit: error: x")
        progress.close()
    assert "3/3" in terminal.getvalue() and "audit: error: x" in terminal.getvalue()
    assert pipe.getvalue() == "audit: error: x\n"


def test_workers_fork_from_a_process_without_threads_or_torch_and_preload_the_readers(zoo):
    import subprocess
    import sys

    script = ("import sys; from auditor import batch; context = batch._context([sys.argv[1]]); "
              "print(context.get_start_method(), 'adapters.onnx' in sys.modules, 'onnx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script, str(zoo / "a.onnx")], capture_output=True, text=True,
                          cwd=Path(__file__).parents[1], check=True)
    # the children share the parent's import of the reader; not of the onnx package, which it does not need
    assert done.stdout.split() == ["fork", "True", "False"]


def test_a_process_holding_torch_starts_workers_from_a_forkserver(monkeypatch):
    import sys

    from auditor import batch

    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    assert batch._context(["x.onnx"]).get_start_method() == "forkserver"
