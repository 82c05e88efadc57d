"""The pytest plugin run in throwaway projects (pytester): pass, fail, the failure's table and finding,
--audit-update, the audit_models marker, both ways of loading it, and its cost to suites that ignore it.

Throwaway models are hand-built IRs, so the in-process runs import no framework; only the
cost-at-collection and the PyTorch end-to-end run need a subprocess.
"""

from __future__ import annotations

import importlib.util

import pytest

import auditor.diff  # noqa: F401  imported here so in-process runs reuse them (pytester drops new imports)
import auditor.report.diff  # noqa: F401
import auditor.testing  # noqa: F401

pytest_plugins = ["pytester"]

INI = "[pytest]\naddopts = -p no:hypothesispytest -p no:benchmark -p no:cacheprovider\n"
"""Plugins each in-process run would re-import for nothing (hypothesis costs seconds a run)."""

MODELS = '''
from auditor.ir import Layer, ModelIR, ParamTensor

def conv(path, cin, cout, k, size):
    out = size - k + 1
    return Layer(path, "conv", "test:Conv2d",
                 {"in_channels": cin, "out_channels": cout, "kernel_size": (k, k), "stride": (1, 1),
                  "dilation": (1, 1), "padding": "valid", "groups": 1, "use_bias": True,
                  "layout": "channels_first"},
                 [(1, cin, size, size)], [(1, cout, out, out)],
                 [ParamTensor("weight", (cout, cin, k, k)), ParamTensor("bias", (cout,))])

def net(k=3):
    """conv 5x5 1->8 on 28x28, then conv k x k 8->8: 208 + (k*k*8+1)*8 parameters."""
    return ModelIR("tiny", "test", "models.py", [conv("c1", 1, 8, 5, 28), conv("c2", 8, 8, k, 24)])

KERNEL = 3
'''

SNAPSHOT_TEST = '''
import models

def test_tiny(audit):
    audit(models.net(models.KERNEL)).assert_snapshot()
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A throwaway project with `models.py` importable from its tests."""
    pytester.makeini(INI)
    pytester.makepyfile(models=MODELS)
    pytester.syspathinsert()
    return pytester


def set_kernel(pytester: pytest.Pytester, k: int) -> None:
    """Rewrite models.py; the comment changes its size, so a same-second .pyc cannot be reused."""
    pytester.makepyfile(models=MODELS.replace("KERNEL = 3", f"KERNEL = {k}  # changed from 3"))


def test_helpers_pass_and_fail_with_the_audit_table(project):
    project.makepyfile(test_sizes='''
        import models

        def test_total(audit):
            audit(models.net()).assert_total(792).assert_verified()

        def test_total_with_tolerance(audit):
            audit(models.net()).assert_total(800, tolerance=10)

        def test_wrong_total(audit):
            audit(models.net()).assert_total(800)
    ''')
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "E * tiny has 792 parameters, expected 800 (-8, -1%)",
        "E * c2 * conv * 584 * 584 *(3*3*8+1)*8 = 584*ok*",
    ])


def test_table_failure_shows_the_diff_table_and_the_kernel_finding(project):
    project.makefile(".csv", expected="layer,kernel_size,params\nc1,5,208\nc2,3,584\nTOTAL,,792\n")
    project.makepyfile(test_table='''
        import models

        def test_kernel_3(audit):
            audit(models.net(3)).assert_matches_table("expected.csv")

        def test_kernel_5(audit):
            audit(models.net(5)).assert_matches_table("expected.csv")
    ''')
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "E * tiny (test) vs expected.csv (table): 1 of 2 rows differ; total 1,816 vs 792 (-1,024)",
        "E * left params * right params * delta * status",
        "E * 2 * c2 * conv * 1,608 * c2 * 584 * -1,024 * differs",
        "E * [[]kernel_size] #2 c2: your table expects 584 * but the layer has 1,608 *: its kernel is 5x5, not 3x3",
    ])


def test_equals_assert_is_explained_by_assertrepr_compare(project):
    project.makepyfile(test_eq='''
        import models

        def test_same_model(audit):
            assert audit(models.net()) == audit(models.net())

        def test_changed_kernel(audit):
            assert audit(models.net(3)) == audit(models.net(5))
    ''')
    result = project.runpytest("-vv")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "E * assert tiny (test) == tiny (test): 1 of 2 rows differ; total 792 vs 1,816 (+1,024)",
        "E * left params * right params *",
        "E * [[]kernel_size] #2 c2: right has 1,608 = (5*5*8+1)*8 but left has 584 = (3*3*8+1)*8: "
        "its kernel is 3x3 in left, 5x5 in right",
    ])
    failure = result.stdout.str().split("short test summary")[0]
    assert failure.count("[kernel_size]") == 1  # untruncated: the diff reporter's list only


def test_truncated_equals_report_still_shows_the_finding(project, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    project.makepyfile(test_eq='''
        import models

        def test_changed_kernel(audit):
            assert audit(models.net(3)) == audit(models.net(5))
    ''')
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * assert tiny (test) == tiny (test): 1 of 2 rows differ*",
        "E * [[]kernel_size] c2: *its kernel is 3x3 in left, 5x5 in right",  # right under the headline
        "*use '-vv' to show",
    ])


def test_audit_update_writes_then_a_normal_run_passes_and_then_catches_drift(project):
    project.makepyfile(test_snap=SNAPSHOT_TEST)
    snapshot = project.path / "__audit_snapshots__" / "test_snap" / "test_tiny.csv"

    missing = project.runpytest()
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["E * tiny: no audit snapshot at __audit_snapshots__/test_snap/test_tiny.csv; "
                                  "run pytest --audit-update to write it"])
    assert not snapshot.exists()

    written = project.runpytest("--audit-update")
    written.assert_outcomes(passed=1)
    written.stdout.fnmatch_lines(["*nn-auditor snapshots*", "written: __audit_snapshots__/test_snap/test_tiny.csv"])
    assert snapshot.read_text().splitlines()[2] == "c2,conv,8,8,3x3,1x1,1,yes,8x22x22,584"

    project.runpytest().assert_outcomes(passed=1)

    set_kernel(project, 5)
    drifted = project.runpytest()
    drifted.assert_outcomes(failed=1)
    drifted.stdout.fnmatch_lines([
        "E * tiny: the model no longer matches its audit snapshot __audit_snapshots__/test_snap/test_tiny.csv",
        "E * left params * right params *",
        "E * [[]kernel_size] #2 c2: your table expects 584 = (3*3*8+1)*8 but the layer has 1,608 = (5*5*8+1)*8: "
        "its kernel is 5x5, not 3x3",
        "E * changed rows (- snapshot, + model now):",
        "E * - c2,conv,8,8,3x3,1x1,1,yes,8x22x22,584",
        "E * + c2,conv,8,8,5x5,1x1,1,yes,8x20x20,1608",
        "E * run pytest --audit-update to refresh the snapshot",
    ])

    refreshed = project.runpytest("--audit-update")
    refreshed.assert_outcomes(passed=1)
    refreshed.stdout.fnmatch_lines(["updated: __audit_snapshots__/test_snap/test_tiny.csv"])
    assert "5x5" in snapshot.read_text()
    project.runpytest().assert_outcomes(passed=1)
    unchanged = project.runpytest("--audit-update")
    assert "nn-auditor snapshots" not in unchanged.stdout.str()


def test_equals_a_snapshot(project, monkeypatch):
    project.makepyfile(test_snap_eq='''
        import models

        def test_tiny(audit):
            assert audit(models.net(models.KERNEL)) == audit.snapshot()
    ''')
    project.runpytest("--audit-update").assert_outcomes(passed=1)
    set_kernel(project, 5)
    result = project.runpytest("-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * assert tiny: the model no longer matches its audit snapshot *",
                                 "E * its kernel is 5x5, not 3x3"])
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    truncated = project.runpytest()
    truncated.stdout.fnmatch_lines(["E * assert tiny: the model no longer matches its audit snapshot *",
                                    "E * [[]kernel_size] *its kernel is 5x5, not 3x3", "*use '-vv' to show"])


def test_marker_audits_each_listed_model_with_its_own_id_and_snapshot(project):
    project.makepyfile(test_many='''
        import functools
        import pytest
        import models

        @pytest.mark.audit_models([models.net, functools.partial(models.net, 5)], ids=["k3", "k5"])
        def test_sizes(audited):
            audited.assert_total(792)

        @pytest.mark.audit_models({"small": models.net, "big": lambda: models.net(5)})
        def test_snapshots(audited):
            audited.assert_snapshot()

        def test_forgot_the_marker(audited):
            pass
    ''')
    result = project.runpytest("-v", "--audit-update")
    result.assert_outcomes(passed=3, failed=1, errors=1)
    result.stdout.fnmatch_lines_random([
        "*test_sizes?k3? PASSED*",
        "*test_sizes?k5? FAILED*",
        "*test_snapshots?small? PASSED*",
        "*test_snapshots?big? PASSED*",
        "*the `audited` fixture needs @pytest.mark.audit_models(model, ...) on the test*",
    ])
    folder = project.path / "__audit_snapshots__" / "test_many"
    assert sorted(p.name for p in folder.iterdir()) == ["test_snapshots[big].csv", "test_snapshots[small].csv"]


def test_marker_is_registered_for_strict_markers(project):
    project.makepyfile(test_strict='''
        import pytest, models

        @pytest.mark.audit_models([models.net])  # one factory alone would be decorated: pass a list
        def test_one(audited):
            audited.assert_verified()
    ''')
    project.runpytest("--strict-markers").assert_outcomes(passed=1)
    assert "audit_models(*models" in project.runpytest("--markers").stdout.str()


def test_loaded_explicitly_when_autoload_is_off(project, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    project.makepyfile(test_explicit='''
        import models

        def test_total(audit):
            audit(models.net()).assert_total(792)
    ''')
    project.runpytest().assert_outcomes(errors=1)  # no plugin, no `audit` fixture
    project.runpytest("-p", "nn_auditor").assert_outcomes(passed=1)  # by entry-point name
    project.runpytest("-p", "auditor.pytest_plugin").assert_outcomes(passed=1)  # by module
    project.runpytest(plugins=["auditor.pytest_plugin"]).assert_outcomes(passed=1)  # pytester, in process


def test_naming_the_entry_point_while_autoload_is_on_registers_it_once(project):
    project.makepyfile(test_twice='''
        def test_registered_once(request):
            names = [name for name, plugin in request.config.pluginmanager.list_name_plugin()
                     if getattr(plugin, "__name__", "") == "auditor.pytest_plugin"]
            assert names == ["nn_auditor"]
    ''')
    project.runpytest("-p", "nn_auditor").assert_outcomes(passed=1)


def test_entry_point_loads_it_and_an_unrelated_suite_imports_nothing_heavy(pytester):
    """A fresh interpreter: the plugin is active through `pytest11`, yet costs no framework import."""
    pytester.makepyfile(test_plain='''
        import sys

        HEAVY = ("torch", "tensorflow", "keras", "onnx", "adapters", "auditor.testing", "auditor.diff",
                 "auditor.explain", "tabulate", "yaml")
        AT_COLLECTION = [m for m in HEAVY if m in sys.modules]

        def test_plain(request):
            assert request.config.pluginmanager.has_plugin("nn_auditor")
            assert request.config.getoption("audit_update") is False
            assert AT_COLLECTION == []
            assert [m for m in HEAVY if m in sys.modules] == []
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_pytorch_model_end_to_end(project):
    """A real nn.Module: snapshot written, then a changed kernel explained.

    In subprocesses: an in-process pytester run drops every module it imported first (torch's lazily
    imported submodules among them), and a C extension re-imported later breaks this process. For the
    same reason torch is not imported out here either (pytester snapshot sys.modules before this body).
    """
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    project.makepyfile(torch_models='''
        from torch import nn

        KERNEL = 3

        def cnn():
            return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 32, KERNEL),
                                 nn.Flatten(), nn.Linear(32 * (10 - KERNEL + 3) ** 2, 10))
    ''')
    project.makepyfile(test_torch='''
        import torch_models

        def test_cnn(audit):
            audit(torch_models.cnn(), input_shape=(1, 1, 28, 28)).assert_verified().assert_snapshot()
    ''')
    project.runpytest_subprocess("--audit-update").assert_outcomes(passed=1)
    source = (project.path / "torch_models.py").read_text().replace("KERNEL = 3", "KERNEL = 5  # changed from 3")
    (project.path / "torch_models.py").write_text(source)
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * [[]kernel_size] #2 3: your table expects 9,248 = (3*3*32+1)*32 but the layer "
                                 "has 25,632 = (5*5*32+1)*32: its kernel is 5x5, not 3x3"])
