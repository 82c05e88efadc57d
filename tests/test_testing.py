"""The assertion helpers and golden snapshots of `auditor.testing`, without pytest's plugin machinery.

Models are hand-built IRs (no framework), so every case runs in milliseconds.
"""

from __future__ import annotations

import functools
import os

import pytest

from auditor import InputError, audit
from auditor.expect import read_table
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.testing import Auditor, AuditResult, Context, Snapshot, explain_comparison, is_factory
from auditor.testing.context import file_name
from auditor.testing.snapshot import drift, read_snapshot, snapshot_rows, write_snapshot


def conv(path: str, cin: int, cout: int, k: int, size: int, *, weight_k: int | None = None) -> Layer:
    """A valid-padded 2-D conv, channels first; `weight_k` gives the weight a different kernel (a mismatch)."""
    out = size - k + 1
    wk = k if weight_k is None else weight_k
    return Layer(
        path, "conv", "test:Conv2d",
        {"in_channels": cin, "out_channels": cout, "kernel_size": (k, k), "stride": (1, 1), "dilation": (1, 1),
         "padding": "valid", "groups": 1, "use_bias": True, "layout": "channels_first"},
        [(1, cin, size, size)], [(1, cout, out, out)],
        [ParamTensor("weight", (cout, cin, wk, wk)), ParamTensor("bias", (cout,))],
    )


def pool(path: str, c: int, size: int, k: int) -> Layer:
    out = size // k
    return Layer(path, "pool", "test:MaxPool2d",
                 {"op": "max", "kernel_size": (k, k), "stride": (k, k), "dilation": (1, 1), "padding": "valid",
                  "ceil_mode": False, "layout": "channels_first"},
                 [(1, c, size, size)], [(1, c, out, out)], [])


def net(k: int = 3, *, names: tuple[str, str, str] = ("c1", "p1", "c2"), pool_k: int = 2) -> ModelIR:
    """conv 5x5 1->8 on 28x28, max-pool, conv k x k 8->8."""
    after = 24 // pool_k
    layers = [conv(names[0], 1, 8, 5, 28), pool(names[1], 8, 24, pool_k), conv(names[2], 8, 8, k, after)]
    return ModelIR("tiny", "test", "test_testing.py", layers)


def result(model: ModelIR, tmp_path, **context) -> AuditResult:
    return Auditor(Context(str(tmp_path), "test_mod", "test_case", **context))(model)


TOTAL_K3 = (5 * 5 * 1 + 1) * 8 + (3 * 3 * 8 + 1) * 8  # 208 + 584


# --- totals -------------------------------------------------------------------------------------


def test_assert_total_passes_and_chains(tmp_path):
    r = result(net(), tmp_path)
    assert r.assert_total(TOTAL_K3).assert_verified() is r
    assert r.total == TOTAL_K3 == 792


def test_assert_total_failure_shows_the_numbers_and_the_per_layer_table(tmp_path):
    with pytest.raises(AssertionError) as failed:
        result(net(), tmp_path).assert_total(800)
    message = str(failed.value)
    assert message.startswith("tiny has 792 parameters, expected 800 (-8, -1%)")
    assert "(3*3*8+1)*8 = 584" in message and "c2" in message  # the audit table, formulas included


def test_tolerances_absolute_relative_and_other_counts(tmp_path):
    r = result(net(), tmp_path)
    r.assert_total(800, tolerance=8).assert_total(800, rel=0.01).assert_total(792, count="analytic")
    with pytest.raises(AssertionError, match=r"expected 800 ± 7 \(-8"):
        r.assert_total(800, tolerance=7)
    with pytest.raises(AssertionError, match="792 trainable parameters, expected 0"):
        r.assert_total(0, count="trainable")
    with pytest.raises(InputError, match="unknown count 'params'; expected one of reported"):
        r.assert_total(792, count="params")


# --- verified -----------------------------------------------------------------------------------


def test_assert_verified_names_the_mismatched_layer_and_its_finding(tmp_path):
    model = net()
    model.layers[2] = conv("c2", 8, 8, 3, 12, weight_k=5)  # weights of a 5x5 conv, attrs say 3x3
    with pytest.raises(AssertionError) as failed:
        result(model, tmp_path).assert_verified()
    message = str(failed.value)
    assert message.startswith("tiny: not every layer is analytically verified\n  [param_count] c2: ")
    assert "mismatch" in message  # the status column of the audit table below


def test_unverified_layers_fail_unless_allowed_by_kind_or_path(tmp_path):
    model = net()
    model.layers.append(Layer("head", "mystery", "test:Mystery", {}, [], [], [ParamTensor("w", (4,))]))
    r = result(model, tmp_path)
    with pytest.raises(AssertionError, match=r"\[unverified\] head \(mystery\): no rule for kind 'mystery'"):
        r.assert_verified()
    r.assert_verified(allow=["mystery"]).assert_verified(allow=("head",))


# --- tables and other models --------------------------------------------------------------------


def write_table(tmp_path, kernel: str) -> str:
    path = tmp_path / "expected.csv"
    path.write_text(f"layer,kernel_size,params\nc1,5,208\nc2,{kernel},584\nTOTAL,,792\n", encoding="utf-8")
    return str(path)


def test_matches_table_by_relative_path_and_as_an_expectation(tmp_path):
    write_table(tmp_path, "3")
    r = result(net(), tmp_path)
    r.assert_matches_table("expected.csv")
    assert r == read_table(str(tmp_path / "expected.csv"))


def test_table_failure_carries_the_diff_table_and_the_kernel_finding(tmp_path):
    write_table(tmp_path, "3")
    with pytest.raises(AssertionError) as failed:
        result(net(k=5), tmp_path).assert_matches_table("expected.csv")
    lines = str(failed.value).splitlines()
    assert lines[0] == "tiny (test) vs expected.csv (table): 1 of 2 rows differ; total 1,816 vs 792 (-1,024)"
    assert any("left params" in line and "right params" in line for line in lines)  # the diff reporter's table
    findings = [line for line in lines if "[kernel_size]" in line]
    assert len(findings) == 1  # listed once, by the diff reporter
    assert findings[0].startswith("  [kernel_size] #2 c2: your table expects 584")
    assert findings[0].endswith("its kernel is 5x5, not 3x3")


def test_matches_another_model_and_equality(tmp_path):
    r = result(net(), tmp_path)
    r.assert_matches(net(names=("a", "b", "c")))  # names are hints, never compared
    assert r == result(net(names=("x", "y", "z")), tmp_path)
    assert r == audit(net())
    with pytest.raises(AssertionError, match="its kernel is 3x3 in left, 5x5 in right"):
        r.assert_matches(net(k=5))
    assert not (r == result(net(k=5), tmp_path))


def test_equality_with_unrelated_objects_is_plain_false():
    r = AuditResult(audit(net()))
    assert r != 792 and r != "tiny"
    assert explain_comparison("==", r, 792) is None
    assert explain_comparison("<", r, r) is None


def test_explain_comparison_for_either_side_with_the_findings_first_when_asked():
    left, right = AuditResult(audit(net())), AuditResult(audit(net(k=5)))
    for lines in (explain_comparison("==", left, right), explain_comparison("==", right.audit, left)):
        assert lines is not None
        assert " == " in lines[0] and "1 of 2 rows differ" in lines[0]
        assert any("left params" in line for line in lines)
        assert sum("[kernel_size]" in line for line in lines) == 1
    brief = explain_comparison("==", left, right, findings_first=True)
    assert brief is not None and brief[1].startswith("  [kernel_size] c2: ")


# --- snapshots ----------------------------------------------------------------------------------


def test_snapshot_rows_are_an_expectation_table_of_every_layer(tmp_path):
    rows = snapshot_rows(audit(net()))
    assert [r["layer"] for r in rows] == ["c1", "p1", "c2", "TOTAL"]
    assert rows[2] == {"layer": "c2", "kind": "conv", "in_channels": "8", "out_channels": "8", "kernel_size": "3x3",
                       "stride": "1x1", "groups": "1", "use_bias": "yes", "output_shape": "8x10x10", "params": "584"}
    assert rows[1]["params"] == "0" and rows[1]["output_shape"] == "8x12x12" and rows[1]["kernel_size"] == ""
    path = str(tmp_path / "snap.csv")
    assert write_snapshot(audit(net()), path) == "written"
    table = read_table(path)  # the file is a valid expectation table
    assert table.total == 792 and [r.layer for r in table.weighted_rows] == ["c1", "c2"]


def test_snapshot_is_rewritten_only_when_its_content_changes(tmp_path):
    path = str(tmp_path / "snap.csv")
    assert write_snapshot(audit(net()), path) == "written"
    assert write_snapshot(audit(net(names=("a", "b", "c"))), path) is None  # a rename alone is no change
    assert read_snapshot(path)[0]["layer"] == "c1"
    assert write_snapshot(audit(net(k=5)), path) == "updated"
    assert drift(audit(net(k=5)), path) is None


def test_drift_of_a_weighted_layer_is_explained(tmp_path):
    path = str(tmp_path / "snap.csv")
    write_snapshot(audit(net()), path)
    found = drift(audit(net(k=5)), path)
    assert found is not None and not found.missing
    message = found.message("tiny")
    assert "[kernel_size] #2 c2: your table expects 584 = (3*3*8+1)*8 but the layer has 1,608" in message
    assert "- c2,conv,8,8,3x3,1x1,1,yes,8x10x10,584" in found.changed
    assert "+ c2,conv,8,8,5x5,1x1,1,yes,8x8x8,1608" in found.changed
    assert message.rstrip().endswith("run pytest --audit-update to refresh the snapshot")


def test_drift_of_a_parameter_free_layer_shows_in_the_row_diff(tmp_path):
    path = str(tmp_path / "snap.csv")
    write_snapshot(audit(net()), path)
    found = drift(audit(net(pool_k=3)), path)  # the pool's output shrinks; conv counts stay the same
    assert found is not None
    assert "- p1,pool,,,,,,,8x12x12,0" in found.changed and "+ p1,pool,,,,,,,8x8x8,0" in found.changed


def test_missing_snapshot_fails_without_writing_and_update_mode_writes(tmp_path):
    written: list[tuple[str, str]] = []
    r = result(net(), tmp_path)
    with pytest.raises(AssertionError, match=r"no audit snapshot at .*test_case\.csv; run pytest --audit-update"):
        r.assert_snapshot()
    assert not os.path.exists(tmp_path / "__audit_snapshots__")
    updating = result(net(), tmp_path, update=True, on_write=lambda p, what: written.append((p, what)))
    updating.assert_snapshot()
    expected = str(tmp_path / "__audit_snapshots__" / "test_mod" / "test_case.csv")
    assert written == [(expected, "written")]
    result(net(), tmp_path).assert_snapshot()
    with pytest.raises(AssertionError, match="no longer matches its audit snapshot"):
        result(net(k=5), tmp_path).assert_snapshot()


def test_snapshot_objects_compare_with_equals_and_write_under_update(tmp_path):
    auditor_ = Auditor(Context(str(tmp_path), "m", "t", update=True))
    assert auditor_(net()) == auditor_.snapshot()  # written
    plain = Auditor(Context(str(tmp_path), "m", "t"))
    snapshot = plain.snapshot()
    assert isinstance(snapshot, Snapshot) and plain(net()) == snapshot and snapshot == plain(net())
    assert plain(net(k=5)) != plain.snapshot("t")  # the same file, drifted
    assert not os.path.exists(tmp_path / "__audit_snapshots__" / "m" / "t-2.csv")
    lines = explain_comparison("==", plain(net(k=5)), plain.snapshot("t"))
    assert lines is not None and any("its kernel is 5x5, not 3x3" in line for line in lines)


def test_snapshot_names_are_portable_and_repeat_with_a_counter(tmp_path):
    context = Context(str(tmp_path), "test_mod", "test_x[reference:vgg16@torch]")
    first, second = context.snapshot_path(), context.snapshot_path()
    assert os.path.basename(first) == "test_x[reference_vgg16@torch].csv"
    assert os.path.basename(second) == "test_x[reference_vgg16@torch]-2.csv"
    assert os.path.basename(context.snapshot_path("named")) == os.path.basename(context.snapshot_path("named"))
    assert os.path.basename(context.snapshot_path("named")) == "named.csv"  # a chosen name is used as given
    assert file_name("a/b c:d") == "a_b_c_d" and file_name("...") == "snapshot"


# --- factories ----------------------------------------------------------------------------------


class CallableModel:
    def __call__(self) -> None:  # a model object is callable too (nn.Module, keras.Model)
        raise AssertionError("a model object must not be called")


def test_factories_are_called_and_model_objects_are_not():
    assert is_factory(net) and is_factory(ModelIR) and is_factory(functools.partial(net, 5))
    assert not is_factory(CallableModel()) and not is_factory("reference:lenet5")
    assert Auditor()(functools.partial(net, 5)).total == 208 + 1608
