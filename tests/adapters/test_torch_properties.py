"""Property tests: random valid hyper-parameters for PyTorch conv, conv-transpose and linear layers.

The adapter translates each module into the IR and the rules recompute it: the analytic count must
equal PyTorch's `numel`, the analytic output shape the one PyTorch produced, and the MACs the figure
`torch.utils.flop_counter.FlopCounterMode` measures (its FLOPs are 2 x MACs).  Modules live on meta.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from adapters.torch import from_module  # noqa: E402
from auditor.count import Status, check_layer  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def single_check(module, *inputs):
    """Audit a one-layer module on `inputs` (meta tensors) and return its only layer check."""
    ir = from_module(module, example_inputs=inputs)
    layers = [layer for layer in ir.layers if not layer.path.startswith("matmul")]
    assert len(layers) == 1, [layer.path for layer in ir.layers]
    return check_layer(layers[0])


def measured_macs(module, *inputs) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops() // 2


def assert_matches_pytorch(module, *inputs, macs: bool = True) -> None:
    check = single_check(module, *inputs)
    assert check.status in (Status.OK, Status.NO_PARAMS), (check.note, [f.message for f in check.findings])
    assert check.analytic == sum(p.numel() for p in module.parameters())
    out = module(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    assert check.analytic_output_shape == tuple(out.shape)
    if macs:
        assert check.macs == measured_macs(module, *inputs)


@st.composite
def conv_case(draw, transposed: bool = False):
    rank = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    bias = draw(st.booleans())
    if transposed:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(rank))
        out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        options = dict(padding=padding, output_padding=out_pad)
    else:
        padding = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
        if padding == "same":
            stride = (1,) * rank
        options = dict(
            padding={"int": draw(st.integers(0, 3)), "tuple": tuple(draw(st.integers(0, 3)) for _ in range(rank)),
                     "same": "same", "valid": "valid"}[padding],
            padding_mode=draw(st.sampled_from(["zeros", "zeros", "circular", "replicate", "reflect"])),
        )
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(e, e + 6)) for e in extent)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    return rank, cin, cout, kernel, stride, dilation, groups, bias, options, batch, size


@SETTINGS
@given(conv_case())
def test_conv_matches_pytorch(case):
    rank, cin, cout, kernel, stride, dilation, groups, bias, options, batch, size = case
    if options.get("padding_mode") in ("reflect", "circular", "replicate"):
        pads = options["padding"]
        pads = [pads] * rank if isinstance(pads, int) else pads
        assume(pads != "valid" and pads != "same")
        assume(all(p < n for p, n in zip(pads, size)))
    cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[rank]
    module = cls(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups, bias=bias,
                 device="meta", **options)
    assert_matches_pytorch(module, torch.empty(*batch, cin, *size, device="meta"))


@SETTINGS
@given(conv_case(transposed=True))
def test_conv_transpose_matches_pytorch(case):
    rank, cin, cout, kernel, stride, dilation, groups, bias, options, batch, size = case
    cls = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}[rank]
    module = cls(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups, bias=bias,
                 device="meta", **options)
    x = torch.empty(*batch, cin, *size, device="meta")
    try:
        module(x)
    except RuntimeError:  # PyTorch rejects an empty output: not a valid case
        assume(False)
    assert_matches_pytorch(module, x)


@SETTINGS
@given(
    fin=st.integers(1, 64), fout=st.integers(1, 64), bias=st.booleans(),
    lead=st.lists(st.integers(1, 5), min_size=0, max_size=3),
)
def test_linear_matches_pytorch(fin, fout, bias, lead):
    module = torch.nn.Linear(fin, fout, bias=bias, device="meta")
    assert_matches_pytorch(module, torch.empty(*lead, fin, device="meta"))


def test_flatten_then_linear_writes_the_unflattened_formula():
    """Seed 000's dense layer: the formula names the 32x5x5 volume the Flatten produced."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(800, 256, device="meta"))
    ir = from_module(model, input_shape=(1, 32, 5, 5))
    dense = check_layer(ir.layers[1])
    assert dense.formula == "(32*5*5+1)*256 = 205,056"
