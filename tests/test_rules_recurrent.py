"""Recurrent rule: hand values for PyTorch's and Keras' bias conventions, and PyTorch's own counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.count import Status, check_layer
from auditor.ir import Layer
from auditor.rules import get_rule


def rnn_layer(cell="lstm", input_size=10, hidden=20, layers=1, bidirectional=False, bias_vectors=2, proj=0):
    attrs = dict(cell=cell, input_size=input_size, hidden_size=hidden, num_layers=layers,
                 bidirectional=bidirectional, bias_vectors=bias_vectors, proj_size=proj, batch_first=False)
    return Layer("rnn", "rnn", "test", attrs, [(7, 3, input_size)])


@pytest.mark.parametrize(
    "layer, params",
    [
        (rnn_layer(), 4 * 20 * (10 + 20 + 2)),  # PyTorch LSTM: b_ih and b_hh
        (rnn_layer(bias_vectors=1), 4 * 20 * (10 + 20 + 1)),  # Keras LSTM: one bias
        (rnn_layer("gru", bias_vectors=2), 3 * 20 * (10 + 20 + 2)),  # Keras GRU reset_after / PyTorch
        (rnn_layer("rnn", bias_vectors=0), 20 * (10 + 20)),
        (rnn_layer(layers=2, bidirectional=True), 2 * 4 * 20 * 32 + 2 * 4 * 20 * (40 + 20 + 2)),
        (rnn_layer(proj=5), 4 * 20 * (10 + 5 + 2) + 20 * 5),
    ],
)
def test_hand_counts(layer, params):
    assert get_rule("rnn").count(layer).params == params


def test_macs_per_step():
    layer = rnn_layer()
    assert get_rule("rnn").macs(layer) == 7 * 3 * 4 * 20 * (10 + 20)


torch = pytest.importorskip("torch")


@settings(max_examples=100, deadline=None)
@given(
    cls=st.sampled_from(["LSTM", "GRU", "RNN"]), input_size=st.integers(1, 24), hidden=st.integers(1, 24),
    num_layers=st.integers(1, 3), bidirectional=st.booleans(), bias=st.booleans(), batch_first=st.booleans(),
    proj=st.integers(0, 23), nonlinearity=st.sampled_from(["tanh", "relu"]),
)
def test_pytorch_recurrent_counts(cls, input_size, hidden, num_layers, bidirectional, bias, batch_first, proj,
                                  nonlinearity):
    from adapters.torch import from_module

    options = dict(num_layers=num_layers, bidirectional=bidirectional, bias=bias, batch_first=batch_first,
                   device="meta")
    if cls == "LSTM":
        options["proj_size"] = proj % hidden
    if cls == "RNN":
        options["nonlinearity"] = nonlinearity
    module = getattr(torch.nn, cls)(input_size, hidden, **options)
    x = torch.empty(2, 5, input_size, device="meta")
    (check,) = [check_layer(layer) for layer in from_module(module, example_inputs=(x,)).layers]
    assert check.status == Status.OK, (check.note, [f.message for f in check.findings])
    assert check.analytic == sum(p.numel() for p in module.parameters())
    batch, steps = (2, 5) if batch_first else (5, 2)
    per_step = check.macs // (batch * steps * (2 if bidirectional else 1))
    assert per_step * batch * steps * (2 if bidirectional else 1) == check.macs


@settings(max_examples=100, deadline=None)
@given(cls=st.sampled_from(["LSTMCell", "GRUCell", "RNNCell"]), input_size=st.integers(1, 24),
       hidden=st.integers(1, 24), bias=st.booleans())
def test_pytorch_cells(cls, input_size, hidden, bias):
    from adapters.torch import from_module

    module = getattr(torch.nn, cls)(input_size, hidden, bias=bias, device="meta")
    (check,) = [check_layer(layer) for layer in from_module(module, input_shape=(3, input_size)).layers]
    assert check.status == Status.OK
    assert check.analytic == sum(p.numel() for p in module.parameters())
