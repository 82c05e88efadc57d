"""`module:factory` and `path/to/file.py:factory` specs, found as `python -m` and uvicorn find them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.cli import main

REPO = Path(__file__).resolve().parents[1]

MODELS = textwrap.dedent('''
    import torch.nn as nn

    def build():
        return nn.Sequential(nn.Linear(4, 3), nn.ReLU())

    model = nn.Linear(2, 2)

    def broken():
        raise RuntimeError("no weights here")
''')


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    pytest.importorskip("torch")
    (tmp_path / "mymodels.py").write_text(MODELS)
    sub = tmp_path / "zoo"
    sub.mkdir()
    (sub / "helper_mod.py").write_text("WIDTH = 5\n")
    (sub / "nets.py").write_text("import torch.nn as nn\nimport helper_mod\n\n"
                                 "def build():\n    return nn.Linear(helper_mod.WIDTH, 5)\n")
    return tmp_path


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The installed `audit` script's situation: the current folder is not on sys.path.  The test's own
    modules (under tmp_path) are forgotten afterwards, so the next test's folder is imported afresh;
    frameworks stay imported (a C extension imported twice aborts the process)."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _audit(folder: Path, spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    code = main([spec, "--format", "json"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spec, total", [
    ("mymodels:build", 15),
    ("./mymodels.py:build", 15),
    ("zoo/nets.py:build", 30),  # its folder goes on the path, so `import helper_mod` works
    ("mymodels:model", 6),  # an attribute that is already a model is used as it is
])
def test_factory_specs_work_from_the_current_folder(folder, installed, monkeypatch, capsys, spec, total):
    code, out, err = _audit(folder, spec, monkeypatch, capsys)
    assert code == 0, err
    assert f'"reported": {total},' in out


@pytest.mark.parametrize("spec, message", [
    ("mymodels:broken", "mymodels:broken: broken() raised RuntimeError: no weights here"),
    ("mymodels:nothing", "mymodels has no attribute 'nothing'"),
    ("nomodule:build", "no module named 'nomodule'"),
    ("zoo/absent.py:build", "no such file zoo/absent.py"),
])
def test_factory_failures_are_one_line_naming_the_error(folder, installed, monkeypatch, capsys, spec, message):
    code, _, err = _audit(folder, spec, monkeypatch, capsys)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_module_that_raises_on_import_is_named(tmp_path, installed, monkeypatch, capsys):
    (tmp_path / "oops.py").write_text("import definitely_not_installed_pkg\n")
    code, _, err = _audit(tmp_path, "oops.py:build", monkeypatch, capsys)
    assert code == 2
    assert "oops.py:build: importing oops.py raised ModuleNotFoundError" in err


def test_the_console_script_finds_a_module_next_to_it(folder):
    """A fresh process whose sys.path lacks the current folder, as the installed `audit` script's does."""
    code = ("import sys\nsys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            "from auditor.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", code, "mymodels:build"], cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "Total params: 15" in done.stdout, done.stderr


def test_an_unbuilt_keras_model_from_a_factory_is_built_with_the_input_shape(tmp_path, installed, monkeypatch,
                                                                            capsys):
    pytest.importorskip("keras")
    (tmp_path / "kzoo.py").write_text(
        "import keras\n\ndef build():\n    return keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.Flatten(), "
        "keras.layers.Dense(10)])\n")
    code, out, err = _audit(tmp_path, "kzoo:build", monkeypatch, capsys)
    assert code == 2 and "not built" in err
    monkeypatch.chdir(tmp_path)
    assert main(["kzoo:build", "--input-shape", "1x28x28x1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["reported"] == 80 + 54_090 and report["totals"]["macs"] == 48_672 + 54_080
    assert main(["kzoo:build", "--input-shape", "1x28x28"]) == 2
    assert "building the Keras model for input shape 1x28x28 raised" in capsys.readouterr().err


@pytest.mark.parametrize("spec, shape, error", [
    ("fwd:broken", "1x4", "ValueError: forward is broken"),
    ("fwd:cnn", "1x32x32x3", "expected input[1, 32, 32, 3] to have 3 channels"),  # NHWC given to an NCHW model
])
def test_a_forward_that_raises_is_named_and_its_macs_are_unknown_not_zero(tmp_path, installed, monkeypatch, capsys,
                                                                          spec, shape, error):
    """Issue 17: never `"consistent": true` with `MACs: 0 (0)`; either exit 2 naming the error, or the count
    (still right) with MACs plainly unknown and the error in the notes."""
    pytest.importorskip("torch")
    (tmp_path / "fwd.py").write_text(textwrap.dedent('''
        from torch import nn

        class Broken(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)

            def forward(self, x):
                raise ValueError("forward is broken")

        def broken():
            return Broken()

        def cnn():
            return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
    '''))
    monkeypatch.chdir(tmp_path)
    code = main([spec, "--input-shape", shape, "--format", "json"])
    out, err = capsys.readouterr()
    if code == 2:
        assert error in err and err.count("\n") == 1
        return
    report = json.loads(out)
    assert code == 0 and report["totals"]["macs"] is None and report["totals"]["flops"] is None
    assert any(error in note for note in report["notes"])
