"""Functional layers written inside forward are recorded as operators and counted by their module
form's rule: MACs against FlopCounterMode on meta (matrix products, convolutions, einsum) or the
norm convention (one per element); F.interpolate is 0 by convention."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import auditor  # noqa: E402
from auditor.count import Status  # noqa: E402


def flop_macs(fn, *inputs) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*inputs)
    return counter.get_total_flops() // 2


class Functional(nn.Module):
    """One module whose forward is nothing but functional calls on its own tensors."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(12, 10))
        self.b = nn.Parameter(torch.zeros(12))
        self.kernel = nn.Parameter(torch.zeros(6, 3, 3, 3))
        self.table = nn.Parameter(torch.zeros(30, 10))
        self.gamma = nn.Parameter(torch.ones(6))

    def forward(self, x, image, ids):
        h = F.linear(x, self.w, self.b)                                  # (2, 5, 12)
        e = F.embedding(ids, self.table)                                 # (2, 5, 10)
        y = F.conv2d(image, self.kernel, padding=1)                      # (2, 6, 8, 8)
        y = F.batch_norm(y, None, None, self.gamma, None, training=True)
        y = F.group_norm(y, 3, self.gamma)
        y = F.instance_norm(y)
        y = F.interpolate(y, scale_factor=2)                             # (2, 6, 16, 16)
        n = F.layer_norm(h, (12,))
        s = torch.einsum("bqd,bkd->bqk", n, h)                           # (2, 5, 5)
        t = torch.bmm(s, e) + torch.baddbmm(e, s, e)                     # (2, 5, 10)
        u = torch.addmm(self.b, t.reshape(10, 10), self.w.t())          # (10, 12)
        return y, u


INPUTS = (torch.zeros(2, 5, 10), torch.zeros(2, 3, 8, 8), torch.zeros(2, 5, dtype=torch.long))


@pytest.fixture(scope="module")
def audit():
    return auditor.audit(Functional(), example_inputs=INPUTS)


def op(audit, kind):
    found = [c for c in audit.checks if c.kind == kind]
    assert len(found) == 1, [c.path for c in audit.checks]
    return found[0]


def test_every_functional_call_is_one_operator_row(audit):
    kinds = [c.kind for c in audit.checks if c.kind != "torch:Functional"]
    assert kinds == ["linear_op", "embedding_op", "conv_op", "batch_norm_op", "group_norm_op", "instance_norm_op",
                     "resize", "layer_norm_op", "einsum", "matmul", "matmul", "matmul"]
    assert all(c.status == Status.NO_PARAMS for c in audit.checks if c.kind != "torch:Functional")
    assert audit.totals.macs_complete and audit.totals.reported == sum(p.numel() for p in Functional().parameters())


def test_matrix_products_and_convolutions_match_flop_counter(audit):
    x, image, _ = (t.to("meta") for t in INPUTS)
    w, kernel = torch.zeros(12, 10, device="meta"), torch.zeros(6, 3, 3, 3, device="meta")
    assert op(audit, "linear_op").macs == flop_macs(F.linear, x, w) == 2 * 5 * 10 * 12
    assert op(audit, "conv_op").macs == flop_macs(lambda a, k: F.conv2d(a, k, padding=1), image, kernel)
    s, e = torch.zeros(2, 5, 5, device="meta"), torch.zeros(2, 5, 10, device="meta")
    n = torch.zeros(2, 5, 12, device="meta")
    assert op(audit, "einsum").macs == flop_macs(lambda a, b: torch.einsum("bqd,bkd->bqk", a, b), n, n)
    products = [c.macs for c in audit.checks if c.kind == "matmul"]
    assert products == [flop_macs(torch.bmm, s, e), flop_macs(torch.baddbmm, e, s, e),
                        flop_macs(torch.addmm, torch.zeros(12, device="meta"), torch.zeros(10, 10, device="meta"),
                                  w.t())]


def test_functional_norms_count_one_mac_per_element_and_resize_none(audit):
    assert [op(audit, k).macs for k in ("batch_norm_op", "group_norm_op", "instance_norm_op")] == [2 * 6 * 8 * 8] * 3
    assert op(audit, "layer_norm_op").macs == 2 * 5 * 12
    assert op(audit, "embedding_op").macs == 0
    resize = op(audit, "resize")
    assert resize.macs == 0 and resize.layer.output_shapes == [(2, 6, 16, 16)] == [resize.analytic_output_shape]
    assert "resizing" in audit.convention


def test_module_forms_do_not_record_their_functional_calls_twice():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.GroupNorm(2, 4))
    audit = auditor.audit(model, input_shape=(3, 4))
    assert [c.kind for c in audit.checks] == ["dense", "layer_norm", "group_norm"]
