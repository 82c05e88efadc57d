"""ONNX: --input-shape over a fixed input says so; rows of a dynamo export are named from the exporter's
name scopes (module paths, and the exporter's name for a function called in the top-level forward)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
from support.onnx_graphs import conv_dense_graph, save  # noqa: E402

import auditor  # noqa: E402


def test_an_input_shape_replacing_fixed_dims_is_named_in_a_note(tmp_path):
    path = save(conv_dense_graph(), str(tmp_path))  # input x is declared 1x3x16x16
    batch4 = auditor.audit(path, input_shape=(4, 3, 16, 16))
    assert batch4.totals.macs == 4 * auditor.audit(path).totals.macs
    assert ("--input-shape 4x3x16x16 replaced the fixed shape 1x3x16x16 that the file declares for input 'x': "
            "shapes and MACs are for the shape given") in batch4.model.notes
    assert not any(n.startswith("--input-shape") for n in auditor.audit(path, input_shape=(1, 3, 16, 16)).model.notes)
    symbolic = save(conv_dense_graph(batch="N"), str(tmp_path), "symbolic.onnx")
    assert not any(n.startswith("--input-shape") for n in auditor.audit(symbolic, input_shape=(2, 3, 16, 16)).model.notes)


def test_a_dynamo_export_names_rows_by_module_path_and_call(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.fc = nn.Linear(4 * 13 * 13, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(F.relu(torch.flatten(self.features(x), 1)))

    model = Net().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.1, 0.2)  # no all-zero bias for the optimizer to drop
    path = tmp_path / "net.onnx"
    torch.onnx.export(model, (torch.randn(1, 1, 28, 28),), str(path), dynamo=True)
    paths = [c.path for c in auditor.audit(str(path)).checks]
    assert not [p for p in paths if p.startswith("node_")], paths
    assert paths[:3] == ["features.0", "features.1", "features.2"] and paths[-1] == "fc"
    assert "relu_1" in paths  # F.relu in Net.forward, as the exporter names that call


def test_an_export_with_dynamic_height_and_width_prints_unknown_not_zero(tmp_path):
    """torch's exporter with dynamic H and W: MACs and activations are unknown (named dims), never 0."""
    import json

    torch = pytest.importorskip("torch")
    from torch import nn

    from auditor.report import render_audit

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    path = str(tmp_path / "dynamic_hw.onnx")
    torch.onnx.export(model.eval(), (torch.randn(1, 3, 32, 32),), path, dynamo=False, input_names=["image"],
                      dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}})
    audit = auditor.audit(path)
    assert audit.totals.reported == sum(p.numel() for p in model.parameters())
    totals = json.loads(render_audit(audit, "json"))["totals"]
    assert totals["macs_complete"] is False and totals["activation_complete"] is False
    assert totals["activation_elements"] != 0
    text = render_audit(audit, "table")
    assert "(one forward pass): 0 values" not in text and "MACs: 0 " not in text
    assert "(incomplete: 2 outputs with symbolic dims not counted)" in text
    given = auditor.audit(path, input_shape=(1, 3, 32, 32))
    assert given.totals.macs_complete and given.totals.activation_unknown_layers == 0
