"""Recurrent layers (LSTM, GRU, simple RNN), stacked and bidirectional, with projections.

Canonical attrs: cell ("lstm" | "gru" | "rnn"), input_size, hidden_size, num_layers,
bidirectional, bias_vectors (PyTorch 2: b_ih and b_hh; Keras 1; Keras GRU reset_after 2; 0 when
bias=False), proj_size (PyTorch LSTM projection, 0 = none), batch_first (False: (T, B, F)).
Per layer and direction: gates*H*(in + rec + bias_vectors) + H*proj, where in is input_size for the
first layer and (proj or H)*directions above it, and rec = proj or H.
MACs per time step and direction: gates*H*(in + rec) + H*proj; bias adds and gate products excluded.
"""

from __future__ import annotations

from auditor.ir import Layer
from auditor.rules.base import ParamCount, Rule, RuleError, attr, first_input, fmt, static
from auditor.rules.registry import register

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _layer_sizes(layer: Layer) -> list[tuple[int, int]]:
    """(input width, recurrent width) of each stacked layer."""
    hidden = int(attr(layer, "hidden_size"))
    proj = int(layer.attrs.get("proj_size", 0) or 0)
    directions = 2 if layer.attrs.get("bidirectional", False) else 1
    rec = proj or hidden
    num_layers = int(layer.attrs.get("num_layers", 1))
    if num_layers < 1:
        raise RuleError(f"num_layers must be >= 1, not {num_layers}")
    first = int(attr(layer, "input_size"))
    return [(first if i == 0 else rec * directions, rec) for i in range(num_layers)]


def _gates(layer: Layer) -> int:
    cell = attr(layer, "cell")
    if cell not in GATES:
        raise RuleError(f"unknown recurrent cell {cell!r}")
    return GATES[cell]


class RecurrentRule(Rule):
    """gates*H*(in + rec + bias_vectors) (+ H*proj) per layer and direction."""

    kind = "rnn"
    perturbable = ("bias_vectors", "hidden_size", "input_size", "num_layers", "bidirectional")

    def count(self, layer: Layer) -> ParamCount:
        gates, hidden = _gates(layer), int(attr(layer, "hidden_size"))
        bias = int(layer.attrs.get("bias_vectors", 2))
        proj = int(layer.attrs.get("proj_size", 0) or 0)
        directions = 2 if layer.attrs.get("bidirectional", False) else 1
        total, terms = 0, []
        for width, rec in _layer_sizes(layer):
            total += directions * (gates * hidden * (width + rec + bias) + hidden * proj)
            term = f"{gates}*{hidden}*({width}+{rec}" + (f"+{bias})" if bias else ")")
            if proj:
                term += f" + {hidden}*{proj}"
            terms.append(f"{directions}*({term})" if directions > 1 else term)
        return ParamCount(total, total, f"{' + '.join(terms)} = {fmt(total)}")

    def macs(self, layer: Layer) -> int:
        shape = first_input(layer)
        if len(shape) == 2:
            steps, batch = static(shape[0], "sequence length"), 1
        else:
            t_axis, b_axis = (1, 0) if layer.attrs.get("batch_first", False) else (0, 1)
            steps, batch = static(shape[t_axis], "sequence length"), static(shape[b_axis], "batch size")
        gates, hidden = _gates(layer), int(attr(layer, "hidden_size"))
        proj = int(layer.attrs.get("proj_size", 0) or 0)
        directions = 2 if layer.attrs.get("bidirectional", False) else 1
        per_step = sum(gates * hidden * (width + rec) + hidden * proj for width, rec in _layer_sizes(layer))
        return steps * batch * directions * per_step

    def describe(self, layer: Layer) -> str:
        return f"{layer.attrs.get('cell')} {layer.attrs.get('input_size')}->{layer.attrs.get('hidden_size')}"


register(RecurrentRule())
