"""The reference-model registry, its published tables and the LeNet-1998 rules, with no framework.

Everything here runs on the IR alone: the published numbers are the expectations, the rules are
what is tested.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

import reference_models as rm
from auditor import InputError, Layer, audit_ir
from auditor.count import Status
from auditor.expect import read_table
from auditor.ir import ModelIR, ParamTensor
from reference_models.architectures import LENET_C3_TABLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_seed_model_is_listed_with_a_one_line_description():
    names = [ref.name for ref in rm.list_references()]
    assert names[:7] == ["lasagne-mnist", "lenet5-1998", "lenet5", "alexnet", "alexnet-2gpu", "vgg16", "unet"]
    assert {"googlenet", "googlenet-torchvision", "resnet50", "resnet50-keras"} <= set(names)
    for ref in rm.list_references():
        assert ref.description and "\n" not in ref.description
        assert ref.source and ref.totals and ref.default_framework in rm.FRAMEWORKS


def test_every_reference_names_a_builder_module_in_both_frameworks_without_importing_them():
    import importlib.util

    for ref in rm.list_references():
        for framework in rm.FRAMEWORKS:
            module, _, function = ref.builder_spec(framework).partition(":")
            assert module.startswith(f"reference_models.{framework}_nets.") and function, ref.name
            assert importlib.util.find_spec(module) is not None, f"{ref.name}@{framework}: no module {module}"


def test_unknown_name_is_an_input_error_listing_the_known_names():
    with pytest.raises(InputError, match="unknown reference model 'vgg'; known: lasagne-mnist, .*vgg16"):
        rm.get_reference("vgg")
    with pytest.raises(InputError, match="unknown framework"):
        rm.load_reference("vgg16@jax")


def test_framework_suffix_and_defaults():
    assert rm.split_name("vgg16@keras") == ("vgg16", "keras")
    assert rm.split_name("unet") == ("unet", None)
    assert rm.get_reference("unet").default_framework == "keras"  # the seed used Keras
    assert rm.get_reference("vgg16").default_framework == "torch"


def test_registry_imports_without_any_framework():
    code = (
        "import sys, reference_models as rm; rm.list_references(); rm.published_table('unet');"
        "bad = [m for m in ('torch', 'keras', 'tensorflow', 'onnx') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- published tables ------------------------------------------------------------------------------


def _tables():
    for ref in rm.list_references():
        for table in (ref.table, *ref.extra_tables):
            if table:
                yield ref, table


@pytest.mark.parametrize("ref,table", list(_tables()), ids=lambda x: getattr(x, "name", x))
def test_published_tables_exist_and_their_rows_add_up(ref, table):
    path = rm.published_table(ref.name, table)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    column = "params" if "params" in rows[0] else "connections"
    body = [int(r[column]) for r in rows if r["layer"] != "TOTAL"]
    totals = [int(r[column]) for r in rows if r["layer"] == "TOTAL"]
    assert totals in ([], [sum(body)])
    published = {t.value for t in ref.totals}
    if column == "params" and table == ref.table:
        trainable = sum(int(r["params"]) for r in rows if r.get("kind") != "lecun_rbf")
        assert sum(body) in published or trainable in published


@pytest.mark.parametrize("name", [r.name for r in rm.list_references() if r.table])
def test_published_tables_read_as_expectation_tables(name):
    table = read_table(rm.published_table(name))
    assert table.weighted_rows and all(row.params for row in table.weighted_rows)


def test_seed001_hand_table_differs_from_the_real_unet_exactly_at_the_up_convs():
    hand = read_table(rm.published_table("unet", "unet_seed001_hand.csv")).weighted_rows
    real = read_table(rm.published_table("unet")).weighted_rows
    assert [r.layer for r in hand] == [r.layer for r in real]
    differ = [(h.layer, h.params, r.params) for h, r in zip(hand, real) if h.params != r.params]
    assert differ == [
        ("conv2d_11", 4_719_104, 2_097_664),
        ("conv2d_14", 1_179_904, 524_544),
        ("conv2d_17", 295_040, 131_200),
        ("conv2d_20", 73_792, 32_832),
    ]


def test_missing_table_is_an_input_error():
    with pytest.raises(InputError, match="no published table"):
        rm.published_table("resnet50")


# --- the LeNet-1998 rules, on hand-made IR layers ----------------------------------------------------

import reference_models.lecun_rules  # noqa: E402,F401  (registers the lecun_* kinds)


def _layer(kind, attrs, shape, params):
    return Layer(f"{kind}", kind, "test", attrs, [shape], [], [ParamTensor(n, s, t) for n, s, t in params])


def _lenet_ir(layout="channels_first"):
    """LeNet-5 (1998) as an adapter would translate it; parameter shapes as the PyTorch modules own them."""

    def maps(c, h):
        return (1, c, h, h) if layout == "channels_first" else (1, h, h, c)

    conv = lambda cin, cout, table=None: {  # noqa: E731
        "in_channels": cin, "out_channels": cout, "kernel_size": (5, 5), "table": table, "layout": layout,
    }
    sub = lambda c: {"channels": c, "window": (2, 2), "layout": layout}  # noqa: E731
    return ModelIR("lenet", "test", "test", [
        _layer("lecun_conv", conv(1, 6), maps(1, 32), [("weight", (150,), True), ("bias", (6,), True)]),
        _layer("lecun_subsampling", sub(6), maps(6, 28), [("coefficient", (6,), True), ("bias", (6,), True)]),
        _layer("lecun_conv", conv(6, 16, LENET_C3_TABLE), maps(6, 14),
               [("weight", (1500,), True), ("bias", (16,), True)]),
        _layer("lecun_subsampling", sub(16), maps(16, 10), [("coefficient", (16,), True), ("bias", (16,), True)]),
        _layer("lecun_conv", conv(16, 120), maps(16, 5), [("weight", (48000,), True), ("bias", (120,), True)]),
        _layer("lecun_full", {"in_features": 120, "out_features": 84}, (1, 120),
               [("weight", (84, 120), True), ("bias", (84,), True)]),
        _layer("lecun_rbf", {"in_features": 84, "out_features": 10}, (1, 84), [("centres", (10, 84), False)]),
    ])


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_lenet1998_rules_give_lecuns_counts_and_connections(layout):
    result = audit_ir(_lenet_ir(layout))
    assert [c.status for c in result.checks] == [Status.OK] * 7
    assert [c.analytic for c in result.checks] == [156, 12, 1_516, 32, 48_120, 10_164, 840]
    assert result.totals.trainable == 60_000
    connections = [c.metrics["connections"] for c in result.checks]
    assert connections == [122_304, 5_880, 151_600, 2_000, 48_120, 10_164, 840]
    assert sum(connections) == 340_908
    assert result.checks[2].formula == "(5*5*3+1)*6 + (5*5*4+1)*9 + (5*5*6+1)*1 = 1,516"
    sizes = [c.analytic_output_shape for c in result.checks[:5]]
    first = (lambda c, h: (1, c, h, h)) if layout == "channels_first" else (lambda c, h: (1, h, h, c))
    assert sizes == [first(6, 28), first(6, 14), first(16, 10), first(16, 5), first(120, 1)]


def test_lenet1998_rule_flags_a_full_c3_table():
    """A C3 written with a full 6->16 table has 2,416 parameters: the rule must not accept it as 1,516."""
    ir = _lenet_ir()
    c3 = ir.layers[2]
    c3.attrs["table"] = None
    check = audit_ir(ir).checks[2]
    assert check.status == Status.MISMATCH and check.analytic == 2_416


def test_lenet1998_rule_refuses_a_table_that_does_not_fit():
    ir = _lenet_ir()
    ir.layers[2].attrs["table"] = LENET_C3_TABLE[:-1]
    check = audit_ir(ir).checks[2]
    assert check.status == Status.UNVERIFIED and "connection table" in check.note
