"""`.pt2` archives (torch.export): functions called in a forward are no phantom layer, and --input-shape is
either used or a note says why not."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import auditor  # noqa: E402
from auditor.cli import main  # noqa: E402


class SmallCNN(nn.Module):
    """An ordinary CNN: relu, pooling and flatten called as functions in the top-level forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2, self.fc = nn.Conv2d(1, 8, 3), nn.Conv2d(8, 16, 3), nn.Linear(16 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class Scaled(nn.Module):
    """A product written in the root forward with no module of its own: its MACs stay visible."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) @ x.transpose(0, 1)


@pytest.fixture(scope="module")
def small_pt2(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("pt2") / "small.pt2"
    torch.export.save(torch.export.export(SmallCNN().eval(), (torch.randn(1, 1, 28, 28),)), str(path))
    return str(path)


def test_an_ordinary_cnn_passes_strict_as_its_module_does(small_pt2, capsys):
    exported, module = auditor.audit(small_pt2), auditor.audit(SmallCNN(), input_shape=(1, 1, 28, 28))
    assert [c.path for c in exported.checks] == ["conv1", "conv2", "fc"]
    assert [(c.path, c.kind, c.reported, c.macs) for c in exported.checks] == \
        [(c.path, c.kind, c.reported, c.macs) for c in module.checks if c.reported]
    assert exported.totals.macs == module.totals.macs and exported.totals.macs_complete
    assert any("SmallCNN.forward (flatten, max_pool2d, relu)" in n for n in exported.model.notes)
    assert main([small_pt2, "--strict"]) == 0
    assert "(root)" not in capsys.readouterr().out


def test_a_product_in_the_root_forward_stays_a_row_named_root(tmp_path):
    path = tmp_path / "scaled.pt2"
    torch.export.save(torch.export.export(Scaled().eval(), (torch.randn(4, 8),)), str(path))
    audit = auditor.audit(str(path))
    root = [c for c in audit.checks if c.path == "(root)"]
    assert len(root) == 1 and root[0].reported == 0


def test_input_shape_for_a_pt2_is_not_silently_ignored(small_pt2):
    different = auditor.audit(small_pt2, input_shape=(1, 1, 32, 32))
    assert any(n.startswith("--input-shape not used: a torch.export archive keeps the input shapes it was "
                            "exported with (1x1x28x28)") for n in different.model.notes)
    same = auditor.audit(small_pt2, input_shape=(1, 1, 28, 28))
    assert not any(n.startswith("--input-shape") for n in same.model.notes)
