"""Recurrent layers (LSTM, GRU, simple RNN), stacked and bidirectional, with projections.

Canonical attrs: cell ("lstm" | "gru" | "rnn"), input_size, hidden_size, num_layers,
bidirectional, bias_vectors (PyTorch 2: b_ih and b_hh; Keras 1; Keras GRU reset_after 2; 0 when
bias=False), proj_size (PyTorch LSTM projection, 0 = none), batch_first (False: (T, B, F)), and
optionally dropout (PyTorch's dropout between stacked layers); peephole (ONNX LSTM's P input: three
diagonal vectors i, o, f of H each; absent elsewhere).
Per layer and direction: gates*H*(in + rec + bias_vectors) + H*proj (+ 3*H peepholes), where in is
input_size for the first layer and (proj or H)*directions above it, and rec = proj or H.
MACs per time step and direction: gates*H*(in + rec) + H*proj; bias adds and gate products excluded.
Saved for backward by PyTorch's native cell-by-cell kernel (LSTM, GRU; no projection): per layer and
direction 7*T*B*H values (LSTM: the 4H gates, c_t, tanh(c_t), h_t per step; GRU: 3H gates, two
clones, the candidate and h_t), plus each layer's input.  cuDNN and oneDNN keep their own opaque
workspace instead: unknown on CUDA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.ir import Layer
from auditor.rules.base import ParamCount, Rule, RuleError, Term, attr, first_input, static
from auditor.rules.registry import register
from auditor.rules.saved import dtype_of, new_tensor, saved_input

if TYPE_CHECKING:
    from auditor.rules.change import Change
    from auditor.rules.saved_records import SaveContext, SavedTensor

NATIVE_SAVED_PER_STEP = {"lstm": 7, "gru": 7}
"""Values of hidden width kept per time step, layer and direction by PyTorch's native kernel."""

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
    biases = {"bias_vectors": 0}
    perturbable = ("bias_vectors", "hidden_size", "input_size", "num_layers", "bidirectional")
    choices = {"bias_vectors": (0, 1, 2), "num_layers": tuple(range(1, 9))}
    conventions = {"bias_vectors": 0}
    """PyTorch keeps two bias vectors per gate, Keras one: compared without them."""
    codes = {"use_bias": "bias", "bias_vectors": "rnn_bias_convention"}
    columns = {"in_channels": "input_size", "out_channels": "hidden_size"}
    aliases = ("lstm", "gru", "simplernn")

    def count(self, layer: Layer) -> ParamCount:
        gates, hidden = _gates(layer), int(attr(layer, "hidden_size"))
        bias = int(layer.attrs.get("bias_vectors", 2))
        proj = int(layer.attrs.get("proj_size", 0) or 0)
        directions = 2 if layer.attrs.get("bidirectional", False) else 1
        peepholes = 3 * hidden if layer.attrs.get("peephole", False) else 0
        if peepholes and attr(layer, "cell") != "lstm":
            raise RuleError("only an LSTM has peephole weights")
        terms = []
        for width, rec in _layer_sizes(layer):
            value = directions * (gates * hidden * (width + rec + bias) + hidden * proj + peepholes)
            text = f"{gates}*{hidden}*({width}+{rec}" + (f"+{bias})" if bias else ")")
            if proj:
                text += f" + {hidden}*{proj}"
            if peepholes:
                text += f" + 3*{hidden}"
            terms.append(Term(f"{directions}*({text})" if directions > 1 else text, value))
        return ParamCount.of(*terms)

    def macs(self, layer: Layer) -> int:
        shape = first_input(layer)
        if len(shape) < 2:
            raise RuleError(f"recurrent input of rank {len(shape)}: expected (T, B, F), (B, T, F) or (T, F)")
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

    def reason(self, change: Change) -> str | None:
        if change.attr != "bias_vectors":
            return None
        return (
            f"bias vectors per gate: {change.contrast(str(change.old), str(change.new))}; PyTorch keeps two (b_ih "
            f"and b_hh), Keras one (two for a GRU with reset_after=True): a counting convention, not a different layer"
        )

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor] | None:
        cell = attr(layer, "cell")
        if context.device != "cpu" or cell not in NATIVE_SAVED_PER_STEP or layer.attrs.get("proj_size"):
            return None
        shape = first_input(layer)
        if len(shape) != 3:
            return None
        t_axis, b_axis = (1, 0) if layer.attrs.get("batch_first", False) else (0, 1)
        steps, batch = static(shape[t_axis], "sequence length"), static(shape[b_axis], "batch size")
        hidden, dtype = int(attr(layer, "hidden_size")), dtype_of(layer)
        directions = 2 if layer.attrs.get("bidirectional", False) else 1
        layers = int(layer.attrs.get("num_layers", 1))
        per = NATIVE_SAVED_PER_STEP[cell]
        saved = [saved_input()] if not layer.attrs.get("batch_first", False) else [
            new_tensor("input, time-major copy", (steps * batch, shape[2]), dtype)]
        for n in range(layers):
            saved.append(new_tensor(f"layer {n}: {per}*T*B*H per direction", (directions, per, steps, batch, hidden), dtype))
            if n:
                between = (steps, batch, directions * hidden)
                saved.append(new_tensor(f"layer {n} input", between, dtype))
                if context.training and float(layer.attrs.get("dropout", 0.0) or 0.0) > 0.0:
                    saved.append(new_tensor(f"dropout mask before layer {n}", between, dtype))
        return saved


register(RecurrentRule())
