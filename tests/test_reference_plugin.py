"""The reference models audited through nn-auditor's own pytest plugin (the `audit` fixture and the
`audit_models` marker), as a user's CI would: published totals, published tables, golden per-layer
snapshots in both frameworks, and cross-framework diffs whose failures carry the findings.

Refresh the snapshots after an intended change with `python -m pytest tests/test_reference_plugin.py --audit-update`.
"""

from __future__ import annotations

import pytest

import reference_models as rm

NAMES = [ref.name for ref in rm.list_references()]
TABLED = [ref.name for ref in rm.list_references() if ref.table]
COUNTED = {"lenet5-1998": "trainable"}
"""The published headline number counts trainable parameters only (the RBF centres are fixed)."""
SAME_IN_BOTH = ["lasagne-mnist", "lenet5-1998", "lenet5", "alexnet", "alexnet-2gpu", "vgg16", "unet", "googlenet"]
"""Built identically in PyTorch and Keras, layer for layer."""
WITH_BATCHNORM = ["googlenet-torchvision", "resnet50", "resnet50-keras"]
"""Keras counts BatchNorm's moving mean and variance as parameters, PyTorch keeps them as buffers."""


def spec(name: str, framework: str | None = None) -> str:
    return f"reference:{name}" + (f"@{framework}" if framework else "")


@pytest.mark.audit_models([spec(n) for n in NAMES])
def test_published_total_and_every_layer_verified(audited):
    ref = rm.get_reference(audited.name)
    audited.assert_total(ref.published_total, count=COUNTED.get(ref.name, "reported")).assert_verified()


@pytest.mark.audit_models([spec(n) for n in TABLED])
def test_matches_its_published_table(audited):
    audited.assert_matches_table(rm.published_table(audited.name))


@pytest.mark.audit_models([spec(n, fw) for n in NAMES for fw in rm.FRAMEWORKS])
def test_per_layer_snapshot(audited):
    audited.assert_snapshot()


@pytest.mark.audit_models([spec(n, "torch") for n in SAME_IN_BOTH])
def test_torch_and_keras_builds_agree_layer_by_layer(audited, audit):
    assert audited == audit(spec(audited.name, "keras"))


@pytest.mark.audit_models([spec(n, "torch") for n in WITH_BATCHNORM])
def test_torch_and_keras_builds_differ_only_by_the_batchnorm_convention(audited, audit):
    channels = sum(c.layer.attrs["num_features"] for c in audited.audit.checks if c.kind == "batch_norm")
    with pytest.raises(AssertionError) as failed:
        audited.assert_matches(spec(audited.name, "keras"))
    lines = str(failed.value).splitlines()
    assert lines[0].endswith(f"(+{2 * channels:,})")  # two statistics per channel
    assert {line.split("]")[0] for line in lines if line.startswith("  [")} == {"  [bn_convention"}


def test_two_gpu_alexnet_differs_from_the_single_tower_by_groups_in_three_convs(audit):
    with pytest.raises(AssertionError) as failed:
        audit(spec("alexnet")).assert_matches(spec("alexnet-2gpu"))
    lines = str(failed.value).splitlines()
    assert lines[0] == ("alexnet (torch) vs alexnet-2gpu (torch): 3 of 8 rows differ; "
                        "total 62,378,344 vs 60,965,224 (-1,413,120)")
    assert any("left params" in line and "right params" in line for line in lines)
    findings = [line for line in lines if line.startswith("  [")]
    assert [line.split("]")[0] for line in findings] == ["  [groups"] * 3
    assert all("groups=1 in left, 2 in right" in line for line in findings)


def test_seed001_hand_table_fails_on_the_four_up_convs(audit):
    with pytest.raises(AssertionError) as failed:
        audit(spec("unet")).assert_matches_table(rm.published_table("unet", "unet_seed001_hand.csv"))
    findings = [line for line in str(failed.value).splitlines() if line.startswith("  [kernel_size]")]
    assert len(findings) == 4
    assert all("its kernel is 2x2, not 3x3" in line for line in findings)


WITHOUT_BATCHNORM_SMALL = ["lasagne-mnist", "lenet5", "alexnet-2gpu"]
"""Reference models whose ONNX export keeps every layer (no BatchNorm to fold, no custom layer the exporter
decomposes into primitive ops, as it does LeNet-1998's); small enough to export here."""


@pytest.fixture(scope="module")
def onnx_exports(tmp_path_factory):
    """Each model's PyTorch build exported with the dynamo exporter, with non-zero random weights."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    folder = tmp_path_factory.mktemp("reference_exports")
    paths = {}
    for name in WITHOUT_BATCHNORM_SMALL:
        module = rm.build(name, "torch", meta=False).eval()
        with torch.no_grad():
            for p in module.parameters():
                p.uniform_(0.5, 1.0)  # exporters drop all-zero tensors
        shape = rm.get_reference(name).input_shape
        paths[name] = str(folder / f"{name}.onnx")
        torch.onnx.export(module, (torch.randn(*shape),), paths[name], dynamo=True, verbose=False)
    return paths


@pytest.mark.parametrize("name", WITHOUT_BATCHNORM_SMALL)
def test_onnx_export_agrees_with_the_pytorch_and_keras_builds(name, onnx_exports, audit):
    exported = audit(onnx_exports[name]).assert_verified()
    exported.assert_matches(spec(name, "torch")).assert_matches(spec(name, "keras"))
    if rm.get_reference(name).table:
        exported.assert_matches_table(rm.published_table(name))
