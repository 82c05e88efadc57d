"""The Keras reference models against their published numbers, their audits, and the PyTorch builds.

Keras models are built with deferred variables (shapes, no weight memory) except where they must run.
"""

from __future__ import annotations

from collections import Counter

import pytest

keras = pytest.importorskip("keras")

import auditor  # noqa: E402
import reference_models as rm  # noqa: E402
from auditor.count import Status  # noqa: E402
from auditor.diff import diff_audits, diff_expectation  # noqa: E402
from auditor.expect import read_table  # noqa: E402
from auditor.report.diff import row_to_dict  # noqa: E402

BN_STATS_RESNET50 = 53_120
"""Moving mean + variance of ResNet-50's 53 BatchNorm layers (26,560 channels), which Keras counts."""

PUBLISHED = {
    # name: Keras count_params(), from the published numbers
    "lasagne-mnist": 217_706,  # seed 000
    "lenet5-1998": 60_000 + 840,  # seed 002's 60,000 trainable + the fixed RBF centres (non-trainable)
    "lenet5": 61_706,  # seed 004
    "alexnet": 62_378_344,  # seed 004
    "alexnet-2gpu": 60_965_224,
    "vgg16": 138_357_544,  # seeds 003, 004
    "unet": 31_031_685,  # seed 001 (what Keras printed to the user)
    "googlenet": 6_998_552,  # Caffe bvlc_googlenet deploy (no BatchNorm)
    "resnet50": 25_557_032 + BN_STATS_RESNET50,  # torchvision's number + the BN stats Keras counts
    "resnet50-keras": 25_636_712,  # Keras Applications
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_builder_count_equals_the_published_total(name):
    model = rm.build(name, "keras", meta=True)
    assert model.count_params() == PUBLISHED[name]


def test_googlenet_torchvision_counts_bn_stats_on_top_of_torchvisions_number():
    model = rm.build("googlenet-torchvision", "keras", meta=True)
    bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    stats = sum(2 * int(layer.moving_mean.shape[0]) for layer in bn)
    assert model.count_params() == 6_624_904 + stats
    with_aux = rm.build("googlenet-torchvision", "keras", meta=True, aux_logits=True)
    assert with_aux.count_params() - 2 * 128 * 2 == 13_004_888 + stats  # + the two aux convs' BN stats


def test_googlenet_aux_heads_variant():
    assert rm.build("googlenet", "keras", meta=True, aux_logits=True).count_params() == 13_378_280


def test_lenet1998_runs_and_has_60000_trainable_parameters():
    import numpy as np

    model = rm.build("lenet5-1998", "keras")
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 60_000
    assert model(np.zeros((2, 32, 32, 1), "float32")).shape == (2, 10)


def test_resnet50_keras_is_the_keras_applications_network():
    mine = rm.build("resnet50-keras", "keras", meta=True)
    from adapters.keras import deferred_variables

    with deferred_variables():
        theirs = keras.applications.ResNet50(weights=None)

    def counts(model):
        return [layer.count_params() for layer in model.layers if layer.count_params()]

    assert counts(mine) == counts(theirs)


@pytest.fixture(scope="module")
def audits():
    return {name: auditor.audit(f"reference:{name}@keras") for name in [*PUBLISHED, "googlenet-torchvision"]}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_audit_confirms_every_layer(name, audits):
    result = audits[name]
    assert result.model.source == f"reference:{name}@keras"
    assert result.totals.reported == result.totals.analytic == PUBLISHED[name]
    assert result.consistent and result.totals.unverified_layers == 0
    assert all(c.status is Status.OK for c in result.checks if c.reported)


@pytest.mark.parametrize("name", [r.name for r in rm.list_references() if r.table])
def test_audit_matches_the_published_table_layer_by_layer(name, audits):
    table = read_table(rm.published_table(name))
    assert [c.reported for c in audits[name].checks if c.reported] == [row.params for row in table.weighted_rows]
    assert not diff_expectation(audits[name], table).differs


def test_seed001_scenario_the_hand_table_is_wrong_at_the_four_up_convs(audits):
    """The README's demo: Keras's U-Net against the user's hand table flags kernel 2 vs 3, nothing else."""
    diff = diff_expectation(audits["unet"], read_table(rm.published_table("unet", "unet_seed001_hand.csv")))
    flagged = [row for row in diff.rows if str(row.status) != "same"]
    assert [row.right_params - row.left_params for row in flagged] in (
        [4_719_104 - 2_097_664, 1_179_904 - 524_544, 295_040 - 131_200, 73_792 - 32_832],
        [2_097_664 - 4_719_104, 524_544 - 1_179_904, 131_200 - 295_040, 32_832 - 73_792],
    )
    assert all([f.code for f in row.findings] == ["kernel_size"] for row in flagged)
    rec = diff.reconciliation  # issue 14: the whole delta, four kernel sizes, nothing left over
    assert rec.delta == rec.explained == 3_481_600 and rec.unexplained == 0
    assert [(c.code, c.count, c.amounts) for c in rec.causes] == [
        ("kernel_size", 4, (2_621_440, 655_360, 163_840, 40_960))]


def test_alexnet_one_tower_vs_two_towers_reconciles_exactly_by_groups(audits):
    """The single-tower and the two-GPU AlexNet: -1,413,120 = groups 2 in conv2, conv4 and conv5."""
    rec = diff_audits(audits["alexnet"], audits["alexnet-2gpu"]).reconciliation
    assert rec.delta == rec.explained == 60_965_224 - 62_378_344 and rec.unexplained == 0
    (cause,) = rec.causes
    assert cause.code == "groups" and cause.count == 3


def test_lenet1998_custom_layers_are_verified_with_their_connections(audits):
    result = audits["lenet5-1998"]
    assert [c.metrics.get("connections") for c in result.checks if c.reported] == [
        122_304, 5_880, 151_600, 2_000, 48_120, 10_164, 840,
    ]
    assert result.totals.trainable == 60_000


# --- PyTorch and Keras agree ------------------------------------------------------------------------

torch = pytest.importorskip("torch")
SEQUENTIAL = ["lasagne-mnist", "lenet5-1998", "lenet5", "alexnet", "alexnet-2gpu", "vgg16", "unet"]
"""Models without parallel branches: Keras lists a Functional model's layers by depth, PyTorch by call
order, so only these line up row by row; the branchy ones are compared as multisets below."""


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_pytorch_and_keras_agree_layer_by_layer(name, audits):
    diff = diff_audits(auditor.audit(f"reference:{name}@torch"), audits[name])
    assert not diff.differs, [row_to_dict(row) for row in diff.rows if str(row.status) != "same"]


def _by_kind(result):
    counts: dict[str, Counter] = {}
    for check in result.checks:
        if check.reported:
            counts.setdefault(check.kind, Counter())[check.reported] += 1
    return counts


@pytest.mark.parametrize("name", ["googlenet", "googlenet-torchvision", "resnet50", "resnet50-keras"])
def test_pytorch_and_keras_agree_after_the_batchnorm_convention(name, audits):
    """Same layers with the same counts, in any order; a Keras BatchNorm counts 4C where PyTorch has 2C."""
    torch_kinds, keras_kinds = _by_kind(auditor.audit(f"reference:{name}@torch")), _by_kind(audits[name])
    torch_bn = torch_kinds.pop("batch_norm", Counter())
    keras_bn = keras_kinds.pop("batch_norm", Counter())
    assert torch_kinds == keras_kinds
    assert keras_bn == Counter({2 * count: n for count, n in torch_bn.items()})
