"""The pytest plugin under pytest-xdist (`-n 4`): a zoo of models audited across four worker processes,
snapshots written atomically (whole files, no leftovers), the snapshots every worker wrote listed in the
controller's summary, and drift in one model caught by whichever worker runs it."""

from __future__ import annotations

import os

import pytest

from auditor.testing.snapshot import write_atomically

pytest.importorskip("xdist")
pytest_plugins = ["pytester"]

INI = "[pytest]\naddopts = -p no:hypothesispytest -p no:benchmark -p no:cacheprovider\n"

MODELS = '''
from auditor.ir import Layer, ModelIR, ParamTensor

SHIFT = 0

def conv(path, cin, cout, k, size):
    return Layer(path, "conv", "test:Conv2d",
                 {"in_channels": cin, "out_channels": cout, "kernel_size": (k, k), "stride": (1, 1),
                  "dilation": (1, 1), "padding": "valid", "groups": 1, "use_bias": True,
                  "layout": "channels_first"},
                 [(1, cin, size, size)], [(1, cout, size - k + 1, size - k + 1)],
                 [ParamTensor("weight", (cout, cin, k, k)), ParamTensor("bias", (cout,))])

def net(k):
    """conv 5x5 1->8 on 28x28, then conv k x k 8->8."""
    k = k + (SHIFT if k == 7 else 0)
    return ModelIR(f"net{k}", "test", "models.py", [conv("c1", 1, 8, 5, 28), conv("c2", 8, 8, k, 24)])
'''

ZOO = '''
import functools

import pytest

import models

ZOO = {f"net{k}": functools.partial(models.net, k) for k in range(1, 13)}

@pytest.mark.audit_models(ZOO)
def test_zoo(audited):
    audited.assert_verified().assert_snapshot()
'''


def test_a_zoo_spreads_over_four_workers_and_its_snapshots_stay_whole(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(models=MODELS, test_zoo=ZOO)
    written = pytester.runpytest_subprocess("-n", "4", "--audit-update")
    written.assert_outcomes(passed=12)
    written.stdout.fnmatch_lines(["*4 workers*"])
    folder = pytester.path / "__audit_snapshots__" / "test_zoo"
    snapshots = sorted(p.name for p in folder.iterdir())
    assert snapshots == sorted(f"test_zoo[net{k}].csv" for k in range(1, 13)), "one whole file each, no temp files"
    summary = written.stdout.str().split("nn-auditor snapshots")[1]
    assert summary.count("written: ") == 12, "every worker's snapshots reach the controller's summary"

    (pytester.path / "models.py").write_text(MODELS.replace("SHIFT = 0", "SHIFT = 2  # net7 drifts"))
    drifted = pytester.runpytest_subprocess("-n", "4")
    drifted.assert_outcomes(passed=11, failed=1)  # the 11 unchanged models compare equal to their snapshots
    drifted.stdout.fnmatch_lines(["*test_zoo[[]net7[]]*", "*its kernel is 9x9, not 7x7*"])


def test_a_snapshot_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "snaps" / "a.csv"
    write_atomically(str(path), "old\n")

    def broken_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(str(path), "new\n")
    assert path.read_text() == "old\n" and os.listdir(path.parent) == ["a.csv"]
    monkeypatch.undo()
    write_atomically(str(path), "new\n")
    assert path.read_text() == "new\n" and os.listdir(path.parent) == ["a.csv"]
