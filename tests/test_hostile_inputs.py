"""The hostile-input corpus: every file is written by `support.hostile` and run through the `audit` command.

Each family is one parametrized test.  Every input must end in exit 2 with one clear line on stderr,
or in a report whose unknown part is an `unverified` row, or in exact numbers; never a traceback,
never code from the file run (the marker file), never a read outside the model's folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("onnx")

from support.hostile import CASES, HUGE, MARKER_NAME, Case, Seeds, families, marker_path  # noqa: E402

from auditor.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FAMILIES = families()

@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return Seeds(tmp_path_factory.mktemp("seeds"))


def _params(family: str) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in FAMILIES[family]]


def _needs(case: Case) -> None:
    """Skip a case whose file needs a framework this machine lacks to be written."""
    if "keras" in case.name or "h5" in case.name:
        pytest.importorskip("keras")
    if "pt2" in case.name or "as-bin" in case.name or "jit" in case.name or "torchscript" in case.name:
        pytest.importorskip("torch")
    if "gguf" in case.name:
        pytest.importorskip("gguf")


def run_case(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str, Path]:
    """Write the case's file into tmp_path/model and run `audit FILE --format json` on it in-process."""
    _needs(case)
    folder = tmp_path / "model"
    folder.mkdir()
    path = case.build(folder, seeds)
    capfd.readouterr()
    code = main([str(path), "--format", "json"])
    out, err = capfd.readouterr()
    assert not marker_path(folder).exists(), "code from the file ran"
    assert "Traceback" not in out + err
    return code, out, err, path


def assert_refused(case: Case, code: int, err: str, path: Path) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("audit: error: "), err
    assert path.name in err, "the one line names the file"
    assert re.search(case.message, err, re.IGNORECASE), err


def check(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> dict[str, Any] | None:
    """Run the case and assert the handling it declares; the JSON report when there is one."""
    code, out, err, path = run_case(case, tmp_path, seeds, capfd)
    if case.expect == "refused" or (case.expect == "any" and code == 2):
        assert_refused(case, code, err, path)
        return None
    assert code in (0, 1) and err == "", err
    report = json.loads(out)
    if case.expect == "unverified":
        assert code == 0
        notes = [row["note"] or "" for row in report["layers"] if row["status"] == "unverified"]
        assert any(re.search(case.message, n) for n in notes), notes
    if case.expect == "audited" and case.message:
        said = report["notes"] + report.get("caveats", [])
        assert any(re.search(case.message, n) for n in said), said
    assert all(row["reported"] >= 0 and (row["analytic"] or 0) >= 0 for row in report["layers"])
    assert all(isinstance(v, (int, bool)) for k, v in report["totals"].items() if k != "verified_fraction" and v is not None)
    return report


@pytest.mark.parametrize("case", _params("empty"))
def test_empty_files(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("truncated"))
def test_truncated_files(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("bit-flipped"))
def test_bit_flipped_files(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    """A flipped bit may still parse; then the report must be sound (the flipped name shows up unverified)."""
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("wrong-extension"))
def test_wrong_extensions(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("zip-bomb"))
def test_zip_bombs_are_refused_without_inflating(case: Case, tmp_path: Path, seeds: Seeds,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    _needs(case)
    seeds.data(".keras" if "keras" in case.name else ".pt2")  # framework imports do not count
    peak = _traced_peak(case, tmp_path, seeds, capfd)
    assert peak < 64 * 2**20, f"the audit allocated {peak / 2**20:.0f} MiB for a ~1 MiB file"


def _traced_peak(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> int:
    """Run `check` on the case and return the peak of Python allocations (tracemalloc) while it ran."""
    tracemalloc.start()
    try:
        check(case, tmp_path, seeds, capfd)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", _params("external-data"))
def test_external_data_stays_in_the_model_folder(case: Case, tmp_path: Path, seeds: Seeds,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("graph-structure"))
def test_graph_structure(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    report = check(case, tmp_path, seeds, capfd)
    if report is not None:
        assert report["totals"]["layers"] == 20_000


@pytest.mark.parametrize("case", _params("mismatched-dims"))
def test_mismatched_dims(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


EXACT = {
    "weight-2^62": {"reported": HUGE * 4, "analytic": HUGE * 4, "macs": HUGE * 4},
    "batch-2^62": {"reported": 260, "macs": HUGE * (16 * 16 * 8 * 27 + 8 * 4)},
    "kernel-2^62": {"reported": 8 * 3 * HUGE * HUGE, "analytic": 8 * 3 * HUGE * HUGE},
    "symbolic-seq-batch": {"reported": 200 + 10, "analytic": 210, "macs_complete": False},
    "symbolic-batch-height-width": {"reported": 260, "analytic": 260, "macs_complete": False},
    "minus-one-dims": {"reported": 260, "analytic": 260, "macs_complete": False, "mismatches": 0},
}


@pytest.mark.parametrize("case", _params("dims"))
def test_dims_negative_huge_and_symbolic(case: Case, tmp_path: Path, seeds: Seeds,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    """Negative dims are refused; 2^62 dims give exact Python ints in exact JSON; symbolic dims leave MACs open."""
    report = check(case, tmp_path, seeds, capfd)
    if report is not None:
        expected = EXACT[case.name]
        assert {k: report["totals"][k] for k in expected} == expected


@pytest.mark.parametrize("case", _params("subgraphs"))
def test_if_and_loop_bodies_are_walked_as_verified_nested_layers(case: Case, tmp_path: Path, seeds: Seeds,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    report = check(case, tmp_path, seeds, capfd)
    assert report is not None
    expected = {"if": 2 * 4 * 3, "loop": 6 * 6}[case.name]
    assert report["totals"]["reported"] == report["totals"]["analytic"] == expected
    assert report["totals"]["unverified"] == 0 and report["totals"]["unattributed"] == 0
    nested = {"if": ["branch/then_branch/then", "branch/else_branch/else"], "loop": ["loop/body/cell"]}[case.name]
    weighted = [row["path"] for row in report["layers"] if row["reported"]]
    assert weighted == nested
    assert all(row["status"] == "ok" for row in report["layers"] if row["reported"])


@pytest.mark.parametrize("case", _params("custom-domain"))
def test_custom_domains(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    report = check(case, tmp_path, seeds, capfd)
    assert report is not None
    expected = {"weightless-op": 260, "op-with-weights": 18, "opset-999": 260}[case.name]
    assert report["totals"]["reported"] == expected


@pytest.mark.parametrize("case", _params("code-execution"))
def test_code_in_files_is_never_run(case: Case, tmp_path: Path, seeds: Seeds, capfd: pytest.CaptureFixture[str]) -> None:
    check(case, tmp_path, seeds, capfd)


@pytest.mark.parametrize("case", _params("checkpoint"))
def test_bad_checkpoints_are_refused_without_reading_their_claims(case: Case, tmp_path: Path, seeds: Seeds,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """A 1 GiB header claim is refused before anything is allocated for it."""
    _needs(case)
    peak = _traced_peak(case, tmp_path, seeds, capfd)
    assert peak < 64 * 2**20, f"the audit allocated {peak / 2**20:.0f} MiB for a tiny file"


def test_every_case_belongs_to_a_tested_family() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert len(FAMILIES) == 13 and len(CASES) == sum(len(c) for c in FAMILIES.values())
    assert len(tested) >= len(FAMILIES)


# ---- in a subprocess: the pickle marker, reads outside the folder, and batches --------------------

HOOK = """
import os, sys, json
opened = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        opened.append(os.path.realpath(os.fsdecode(args[0])))
sys.addaudithook(hook)
from auditor.cli import main
code = main(sys.argv[2:])
log = list(opened)
with open(sys.argv[1], "w") as out:
    json.dump(log, out)
sys.exit(code)
"""


def _allowed_roots() -> list[str]:
    """Where a Python process may legitimately read: the interpreter, site-packages, this repo, /proc, ..."""
    import site

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(REPO), "/proc", "/sys", "/dev",
             os.path.expanduser("~/.keras"), *site.getsitepackages(), site.getusersitepackages()}
    return [os.path.realpath(r) for r in roots]


def _own_scratch_file(path: str) -> bool:
    """A file the process made and removed itself directly in the temp folder (a library's scratch file)."""
    import tempfile

    return os.path.dirname(path) == os.path.realpath(tempfile.gettempdir()) and not os.path.exists(path)


def _subprocess_audit(files: list[Path], log: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", HOOK, str(log), *map(str, files), "--each", "--format", "json", *extra]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def _build(cases: list[Case], root: Path, seeds: Seeds) -> list[tuple[Case, Path]]:
    built = []
    for index, case in enumerate(cases):
        folder = root / f"{index:02d}-{case.name}"
        folder.mkdir()
        built.append((case, case.build(folder, seeds)))
    return built


def test_pickles_and_escaping_paths_run_nothing_and_read_nothing_outside_their_folder(tmp_path: Path,
                                                                                   seeds: Seeds) -> None:
    """One `audit --each` subprocess over the code-execution and external-data families, with an audit hook
    recording every file Python opens: markers absent, /etc/passwd and the planted secret never opened."""
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    cases = [c for c in CASES if c.family in ("code-execution", "external-data")]
    root = tmp_path / "corpus"
    root.mkdir()
    built = _build(cases, root, seeds)
    log = tmp_path / "opened.json"
    done = _subprocess_audit([p for _, p in built], log)
    lines = done.stderr.splitlines()
    refused = [case.expect == "refused" for case, _ in built]
    assert done.returncode == 2 and len(lines) == sum(refused), lines
    assert all(line.startswith("audit: error: ") for line in lines), lines
    reports = json.loads(done.stdout)["reports"]
    sources = [r["source"] if "error" in r else r["model"]["source"] for r in reports]
    assert sources == [str(p) for _, p in built], "every file is reported"
    assert ["error" in r for r in reports] == refused, "every one of them is refused, or audited from dims"
    assert not list(tmp_path.rglob(f"*{MARKER_NAME}*")), "a payload ran"
    opened = json.loads(log.read_text())
    assert any(p.endswith("model.onnx") for p in opened), "the hook sees the files the audit reads"
    folders = [os.path.realpath(p.parent) for _, p in built]
    allowed = _allowed_roots() + folders
    outside = [p for p in opened if not any(p == r or p.startswith(r + os.sep) for r in allowed)
               and not _own_scratch_file(p)]
    assert outside == [], outside
    assert "/etc/passwd" not in opened and not any(p.endswith("outside_secret.bin") for p in opened)


def test_an_unreadable_pt2_gives_one_line_in_a_fresh_process(tmp_path: Path, seeds: Seeds) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "empty.pt2"
    path.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "auditor", str(path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.startswith("audit: error: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_a_folder_of_the_whole_corpus_reports_every_file_and_continues(tmp_path: Path, seeds: Seeds) -> None:
    """`audit FOLDER` over one file of every family (plus a good model): every file gets its own entry."""
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from support.onnx_graphs import conv_dense_graph, save

    picks = [cases[0] for cases in FAMILIES.values()]
    folder = tmp_path / "inbox"
    folder.mkdir()
    for index, (_, path) in enumerate(_build(picks, tmp_path, seeds)):
        if path.suffix in (".onnx", ".keras", ".h5", ".pt2"):
            os.replace(path, folder / f"{index:02d}-{path.name}")
    save(conv_dense_graph(), str(folder), "zz-good.onnx")
    expected = sorted(p.name for p in folder.iterdir())
    done = _subprocess_audit([folder], tmp_path / "opened.json")
    reports = json.loads(done.stdout)["reports"]
    names = [os.path.basename(r.get("source") or r["model"]["source"]) for r in reports]
    assert names == expected and done.returncode == 2
    assert reports[-1]["totals"]["reported"] == 260, "the good file after the bad ones is still audited"
    lines = done.stderr.splitlines()
    assert len(lines) == sum("error" in r for r in reports), lines
    assert all(line.startswith("audit: error: ") for line in lines), lines
