"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) loads the page from disk,
its own script reports into the DOM that it ran without errors (`--dump-dom`), and the screenshot is not
blank.  Skipped only where chromium is not installed (CI installs it in .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.png import grey_variance

from auditor.cli import main
from auditor.report.html import page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install -y chromium)")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1000,750")


def render(html: Path, tmp_path: Path) -> tuple[str, bytes]:
    """(the DOM after the page's load event, the PNG screenshot) from one headless Chromium run."""
    shot = tmp_path / f"{html.stem}.png"
    done = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                           "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    return done.stdout, shot.read_bytes()


def _check(dom: str) -> str:
    start = dom.index('id="nn-auditor-check"')
    return dom[start:dom.index("</p>", start)]


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    from support.onnx_graphs import conv_dense_graph, save

    return Path(save(conv_dense_graph(), str(tmp_path_factory.mktemp("model"))))


def test_an_audit_page_renders_without_errors_and_is_not_blank(onnx_file, tmp_path, capsys):
    assert main([str(onnx_file), "--format", "html"]) == 0
    html = tmp_path / "audit.html"
    html.write_text(capsys.readouterr().out)
    dom, png = render(html, tmp_path)
    assert _check(dom) == 'id="nn-auditor-check" data-errors="0">rendered: 5 rows, 2 charts'
    assert grey_variance(png) > 100


def test_a_diff_page_renders_its_rows(onnx_file, tmp_path, capsys):
    table = tmp_path / "hand.csv"
    table.write_text("layer,params\nconv,224\nfc,40\n")
    assert main([str(onnx_file), "--expect", str(table), "--format", "html"]) == 1
    html = tmp_path / "diff.html"
    html.write_text(capsys.readouterr().out)
    dom, png = render(html, tmp_path)
    assert _check(dom) == 'id="nn-auditor-check" data-errors="0">rendered: 3 rows, 0 charts'  # 2 aligned, 1 reconciliation
    assert '<tr class="differs">' in dom and grey_variance(png) > 100


def test_the_check_catches_script_errors_and_a_blank_page(tmp_path):
    """The control: a page whose script fails is reported as such, and its near-empty screenshot is told apart."""
    html = tmp_path / "broken.html"
    html.write_text(page("broken", "<script>console.error('logged'); window.addEventListener('load', function()"
                                   "{ no_such_function(); });</script>"))
    dom, png = render(html, tmp_path)
    check = _check(dom)
    assert 'data-errors="' in check and 'data-errors="0"' not in check and "logged" in check
    assert grey_variance(png) < 100
