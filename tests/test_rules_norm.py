"""Norm rules: PyTorch's buffers vs Keras' non-trainable parameters, and PyTorch's own counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.count import Status, check_layer
from auditor.ir import Layer
from auditor.rules import get_rule


def bn(stats, tracks=False):
    attrs = dict(num_features=64, scale=True, center=True, stats=stats, tracks_batches=tracks,
                 layout="channels_first")
    return Layer("bn", "batch_norm", "test", attrs, [(1, 64, 8, 8)])


def test_batch_norm_conventions():
    """PyTorch: 2C parameters + 2C+1 buffers; Keras: 4C parameters, 2C of them non-trainable."""
    torch_style = get_rule("batch_norm").count(bn("buffers", tracks=True))
    keras_style = get_rule("batch_norm").count(bn("params"))
    assert (torch_style.params, torch_style.buffers) == (128, 129)
    assert (keras_style.params, keras_style.trainable, keras_style.buffers) == (256, 128, 0)


def test_rms_norm_has_no_shift():
    layer = Layer("n", "rms_norm", "test", {"normalized_shape": (4096,), "scale": True, "center": False},
                  [(1, 7, 4096)])
    assert get_rule("rms_norm").count(layer).params == 4096


torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=120, deadline=None)


def audit_one(module, shape):
    from adapters.torch import from_module

    ir = from_module(module, input_shape=shape)
    (check,) = [check_layer(layer) for layer in ir.layers]
    assert check.status in (Status.OK, Status.NO_PARAMS), (check.note, [f.message for f in check.findings])
    assert check.analytic == sum(p.numel() for p in module.parameters())
    assert check.analytic_buffers == sum(b.numel() for b in module.buffers())
    assert check.analytic_output_shape == ir.layers[0].output_shapes[0]
    return check


@SETTINGS
@given(rank=st.integers(1, 3), channels=st.integers(1, 32), affine=st.booleans(), track=st.booleans(),
       instance=st.booleans())
def test_pytorch_batch_and_instance_norm(rank, channels, affine, track, instance):
    name = f"{'InstanceNorm' if instance else 'BatchNorm'}{rank}d"
    module = getattr(torch.nn, name)(channels, affine=affine, track_running_stats=track, device="meta")
    shape = (2, channels, *([4] * rank)) if rank > 1 or not instance else (2, channels, 4)
    audit_one(module, shape)


@SETTINGS
@given(groups=st.integers(1, 6), per_group=st.integers(1, 6), affine=st.booleans(), spatial=st.integers(0, 3))
def test_pytorch_group_norm(groups, per_group, affine, spatial):
    module = torch.nn.GroupNorm(groups, groups * per_group, affine=affine, device="meta")
    audit_one(module, (2, groups * per_group, *([3] * spatial)))


@SETTINGS
@given(shape=st.lists(st.integers(1, 8), min_size=1, max_size=3), lead=st.integers(0, 2), affine=st.booleans(),
       bias=st.booleans(), rms=st.booleans())
def test_pytorch_layer_and_rms_norm(shape, lead, affine, bias, rms):
    if rms:
        module = torch.nn.RMSNorm(shape, elementwise_affine=affine, device="meta")
    else:
        module = torch.nn.LayerNorm(shape, elementwise_affine=affine, bias=bias, device="meta")
    audit_one(module, (*([2] * lead), *shape))


@SETTINGS
@given(channels=st.integers(1, 16), per_channel=st.booleans(), spatial=st.integers(0, 2))
def test_pytorch_prelu(channels, per_channel, spatial):
    module = torch.nn.PReLU(channels if per_channel else 1, device="meta")
    audit_one(module, (2, channels, *([3] * spatial)))
