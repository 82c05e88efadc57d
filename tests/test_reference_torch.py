"""The PyTorch reference models against their published numbers, their audits and their ONNX exports.

Big models are built on the meta device (no weights allocated); only the ONNX exports need real ones.
"""

from __future__ import annotations

import csv
import os

import pytest

torch = pytest.importorskip("torch")

import auditor  # noqa: E402
import reference_models as rm  # noqa: E402
from auditor.count import Status  # noqa: E402
from auditor.diff import diff_audits, diff_expectation  # noqa: E402
from auditor.expect import read_table  # noqa: E402
from auditor.report.diff import row_to_dict  # noqa: E402

PUBLISHED = {
    # name: (PyTorch parameter total, where the number is published)
    "lasagne-mnist": 217_706,  # seed 000
    "lenet5-1998": 60_000 + 840,  # seed 002's 60,000 trainable + the 10x84 fixed RBF centres
    "lenet5": 61_706,  # seed 004
    "alexnet": 62_378_344,  # seed 004
    "alexnet-2gpu": 60_965_224,  # seed 004 minus the cross-GPU halves of conv2/4/5
    "vgg16": 138_357_544,  # seeds 003, 004
    "unet": 31_031_685,  # seed 001
    "googlenet": 6_998_552,  # Caffe bvlc_googlenet deploy
    "googlenet-torchvision": 6_624_904,  # torchvision docs
    "resnet50": 25_557_032,  # torchvision docs
    "resnet50-keras": 25_636_712 - 53_120,  # Keras Applications minus the BN moving stats Keras counts
}
WITH_AUX = {"googlenet": 13_378_280, "googlenet-torchvision": 13_004_888}


def _numel(module, trainable_only=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_builder_count_equals_the_published_total(name):
    module = rm.build(name, "torch", meta=True)
    assert _numel(module) == PUBLISHED[name]
    assert all(p.is_meta for p in module.parameters())


@pytest.mark.parametrize("name", list(WITH_AUX))
def test_googlenet_aux_heads_variant(name):
    assert _numel(rm.build(name, "torch", meta=True, aux_logits=True)) == WITH_AUX[name]


def test_lenet1998_has_60000_trainable_parameters():
    assert _numel(rm.build("lenet5-1998", "torch"), trainable_only=True) == 60_000


@pytest.fixture(scope="module")
def audits():
    """One audit per reference model, shared by the tests below (each costs one meta forward pass)."""
    return {name: auditor.audit(f"reference:{name}@torch") for name in PUBLISHED}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_audit_confirms_every_layer(name, audits):
    result = audits[name]
    assert result.model.source == f"reference:{name}@torch" and result.model.name == name
    assert result.totals.reported == result.totals.analytic == PUBLISHED[name]
    assert result.consistent and result.totals.unverified_layers == 0
    assert all(c.status is Status.OK for c in result.checks if c.reported)


@pytest.mark.parametrize("name", [r.name for r in rm.list_references() if r.table])
def test_audit_matches_the_published_table_layer_by_layer(name, audits):
    table = read_table(rm.published_table(name))
    counts = [c.reported for c in audits[name].checks if c.reported]
    assert counts == [row.params for row in table.weighted_rows]
    assert not diff_expectation(audits[name], table).differs


def test_lenet1998_custom_layers_are_verified_with_their_connections(audits):
    result = audits["lenet5-1998"]
    kinds = [c.kind for c in result.checks if c.reported]
    assert kinds == ["lecun_conv", "lecun_subsampling", "lecun_conv", "lecun_subsampling", "lecun_conv",
                     "lecun_full", "lecun_rbf"]
    assert result.totals.trainable == 60_000 and result.totals.non_trainable == 840
    with open(rm.published_table("lenet5-1998", "lenet5-1998_connections.csv"), newline="") as handle:
        published = [int(r["connections"]) for r in csv.DictReader(handle) if r["layer"] != "TOTAL"]
    assert [c.metrics["connections"] for c in result.checks if c.reported] == published


def test_alexnet_towers_differ_by_groups(audits):
    diff = diff_audits(audits["alexnet"], audits["alexnet-2gpu"])
    codes = [[f.code for f in row.findings] for row in diff.rows if str(row.status) == "differs"]
    assert codes == [["groups"]] * 3


CS231N_VGG16_MEMORY = [
    # output elements of each layer as the CS231n notes list them (seed 003), input first
    150_528, 3_211_264, 3_211_264, 802_816, 1_605_632, 1_605_632, 401_408, 802_816, 802_816, 802_816,
    200_704, 401_408, 401_408, 401_408, 100_352, 100_352, 100_352, 100_352, 25_088, 4_096, 4_096, 1_000,
]


def test_vgg16_parameter_and_activation_memory(audits):
    result = audits["vgg16"]
    assert result.totals.param_bytes == 138_357_544 * 4
    assert round(result.totals.param_bytes / 2**20, 1) == 527.8  # seed 004: "527.7921MB"
    sizes = [c.output_shape for c in result.checks if c.kind in ("conv", "pool", "dense")]
    elements = [150_528] + [int(torch.Size(s[1:]).numel()) for s in sizes]
    assert elements == CS231N_VGG16_MEMORY
    # The notes' rows add up to 15.2M values (61 MB at fp32), not the "24M ... ~93MB" of their TOTAL line.
    assert result.totals.activation_elements == sum(CS231N_VGG16_MEMORY) == 15_237_608


def test_resnet50_variants_differ_by_conv_biases_only(audits):
    diff = diff_audits(audits["resnet50"], audits["resnet50-keras"])
    codes = {tuple(f.code for f in row.findings) for row in diff.rows if str(row.status) == "differs"}
    assert codes == {("bias",)}
    assert sum(row.delta for row in diff.rows) in (26_560, -26_560)


# --- ONNX exports of the PyTorch models ------------------------------------------------------------

onnx = pytest.importorskip("onnx")


def _export(name, folder):
    """Export with the dynamo exporter; random non-zero weights (exporters drop all-zero biases)."""
    module = rm.build(name, "torch", meta=False).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(0.5, 1.0)
    path = os.path.join(str(folder), f"{name}.onnx")
    example = torch.randn(*rm.get_reference(name).input_shape)
    torch.onnx.export(module, (example,), path, dynamo=True, verbose=False)
    return auditor.audit(path)


def _batch_norm_channels(result):
    return sum(c.layer.attrs["num_features"] for c in result.checks if c.kind == "batch_norm")


@pytest.mark.parametrize("name", ["lasagne-mnist", "alexnet-2gpu", pytest.param("unet", marks=pytest.mark.slow)])
def test_onnx_export_agrees_layer_by_layer(name, audits, tmp_path):
    exported = _export(name, tmp_path)
    assert exported.consistent and exported.totals.reported == PUBLISHED[name]
    diff = diff_audits(audits[name], exported)
    assert not diff.differs, [row_to_dict(row) for row in diff.rows if str(row.status) != "same"]


def test_onnx_export_of_lenet1998_keeps_every_parameter(audits, tmp_path):
    """The custom layers become primitive ONNX ops (no rule can verify them there), but nothing is lost."""
    exported = _export("lenet5-1998", tmp_path)
    assert exported.totals.reported == audits["lenet5-1998"].totals.reported == 60_840


@pytest.mark.slow
def test_onnx_export_of_resnet50_differs_only_by_folded_batchnorm(audits, tmp_path):
    exported = _export("resnet50", tmp_path)
    torch_audit = audits["resnet50"]
    # folding removes gamma and beta (2C) and gives the bias-free conv a bias (C): -C per BatchNorm
    assert exported.totals.reported == torch_audit.totals.reported - _batch_norm_channels(torch_audit)
    diff = diff_audits(torch_audit, exported)
    codes = {tuple(f.code for f in row.findings) for row in diff.rows if str(row.status) != "same"}
    assert codes == {("bn_folded",)}
