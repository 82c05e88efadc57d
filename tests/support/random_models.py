"""Hypothesis strategies for random valid small models: layer specs first, then a builder per framework.

A spec is a plain list of (kind, params) tuples, so a failing example prints as something a person can
read and rebuild.  Sizes are tracked while drawing, so every spec builds (no conv larger than its input).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Spec = list[tuple[str, dict[str, Any]]]
"""[("conv", {"out": 8, "kernel": 3, ...}), ("pool", {...}), ..., ("dense", {"out": 4})]"""


@st.composite
def image_models(draw: st.DrawFn, max_layers: int = 5) -> tuple[tuple[int, int, int], Spec]:
    """An image model spec with its input (C, H, W): convolutions, norms, pools, then dense layers."""
    channels, size = draw(st.integers(1, 4)), draw(st.integers(6, 16))
    spec: Spec = []
    current, side = channels, size
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(["conv", "conv", "depthwise", "norm", "pool", "relu"]))
        if kind in ("conv", "depthwise"):
            kernel = draw(st.integers(1, min(3, side)))
            padding = draw(st.sampled_from(sorted({0, kernel // 2})))
            stride = draw(st.integers(1, 2))
            out = current * draw(st.integers(1, 2)) if kind == "depthwise" else draw(st.integers(1, 8))
            spec.append((kind, {"in": current, "out": out, "kernel": kernel, "stride": stride, "padding": padding,
                                "bias": draw(st.booleans())}))
            current, side = out, (side + 2 * padding - kernel) // stride + 1
        elif kind == "pool" and side >= 2:
            spec.append(("pool", {"op": draw(st.sampled_from(["max", "avg"]))}))
            side //= 2
        elif kind == "norm":
            spec.append(("norm", {"features": current}))
        else:
            spec.append(("relu", {}))
    features = current * side * side
    spec.append(("flatten", {}))
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(1, 12))
        spec.append(("dense", {"in": features, "out": out, "bias": draw(st.booleans())}))
        features = out
    return (channels, size, size), spec


@st.composite
def sequence_models(draw: st.DrawFn) -> tuple[tuple[int, int], Spec]:
    """A token model spec with its input (batch, steps): embedding, one recurrent layer, norm, dense."""
    vocab, dim, hidden = draw(st.integers(2, 50)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    cell = draw(st.sampled_from(["lstm", "gru", "rnn"]))
    spec: Spec = [
        ("embedding", {"vocab": vocab, "dim": dim}),
        (cell, {"in": dim, "hidden": hidden}),
        ("layer_norm", {"features": hidden}),
        ("dense", {"in": hidden, "out": draw(st.integers(1, 6)), "bias": draw(st.booleans())}),
    ]
    return (draw(st.integers(1, 3)), draw(st.integers(1, 6))), spec


# ---- PyTorch --------------------------------------------------------------------------------------


def torch_image_model(spec: Spec) -> Any:
    """nn.Sequential for an image spec (channels first)."""
    from torch import nn

    layers: list[nn.Module] = []
    for kind, p in spec:
        if kind in ("conv", "depthwise"):
            groups = p["in"] if kind == "depthwise" else 1
            layers.append(nn.Conv2d(p["in"], p["out"], p["kernel"], p["stride"], p["padding"], groups=groups,
                                    bias=p["bias"]))
        elif kind == "norm":
            layers.append(nn.BatchNorm2d(p["features"]))
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2) if p["op"] == "max" else nn.AvgPool2d(2))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append(nn.Linear(p["in"], p["out"], bias=p["bias"]))
    return nn.Sequential(*layers)


def torch_sequence_model(spec: Spec) -> Any:
    """Embedding -> LSTM/GRU/RNN (batch first) -> LayerNorm -> Linear, as one module."""
    from torch import nn

    class TokenModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            (_, emb), (cell, rnn), (_, norm), (_, dense) = spec
            self.embed = nn.Embedding(emb["vocab"], emb["dim"])
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](rnn["in"], rnn["hidden"], batch_first=True)
            self.norm = nn.LayerNorm(norm["features"])
            self.head = nn.Linear(dense["in"], dense["out"], bias=dense["bias"])

        def forward(self, ids: Any) -> Any:
            return self.head(self.norm(self.rnn(self.embed(ids))[0]))

    return TokenModel()


# ---- Keras ----------------------------------------------------------------------------------------


def keras_image_model(spec: Spec, shape: tuple[int, int, int]) -> Any:
    """keras.Sequential for an image spec (channels last)."""
    import keras
    from keras import layers as kl

    channels, height, width = shape
    stack: list[Any] = [keras.Input((height, width, channels))]
    for kind, p in spec:
        if kind == "conv":
            stack.append(kl.Conv2D(p["out"], p["kernel"], p["stride"], padding=_pad(p), use_bias=p["bias"]))
        elif kind == "depthwise":
            stack.append(kl.DepthwiseConv2D(p["kernel"], p["stride"], padding=_pad(p),
                                            depth_multiplier=p["out"] // p["in"], use_bias=p["bias"]))
        elif kind == "norm":
            stack.append(kl.BatchNormalization())
        elif kind == "pool":
            stack.append(kl.MaxPooling2D(2) if p["op"] == "max" else kl.AveragePooling2D(2))
        elif kind == "relu":
            stack.append(kl.ReLU())
        elif kind == "flatten":
            stack.append(kl.Flatten())
        else:
            stack.append(kl.Dense(p["out"], use_bias=p["bias"]))
    return keras.Sequential(stack)


def _pad(p: dict[str, Any]) -> str:
    """Keras has no explicit padding: "same" matches k//2 padding only at stride 1 with odd kernels."""
    return "same" if p["padding"] else "valid"


def keras_spec_fits(spec: Spec) -> bool:
    """Keras "same" differs from explicit k//2 padding for even kernels or strides > 1; skip those."""
    return all(not p.get("padding") or (p["stride"] == 1 and p["kernel"] % 2 == 1) for _, p in spec)


def keras_sequence_model(spec: Spec, steps: int) -> Any:
    import keras
    from keras import layers as kl

    (_, emb), (cell, rnn), _, (_, dense) = spec
    recurrent = {"lstm": kl.LSTM, "gru": kl.GRU, "rnn": kl.SimpleRNN}[cell]
    return keras.Sequential([
        keras.Input((steps,), dtype="int32"),
        kl.Embedding(emb["vocab"], emb["dim"]),
        recurrent(rnn["hidden"], return_sequences=True),
        kl.LayerNormalization(),
        kl.Dense(dense["out"], use_bias=dense["bias"]),
    ])


# ---- ONNX -----------------------------------------------------------------------------------------


def onnx_image_model(spec: Spec, shape: tuple[int, int, int]) -> tuple[Any, int]:
    """(ModelProto, parameter count) for an image spec: Conv/BatchNormalization/pools/Relu, Flatten, Gemm."""
    from onnx import helper

    from support.onnx_graphs import model, value, weight

    nodes, inits, count, current = [], [], 0, "x"
    for index, (kind, p) in enumerate(spec):
        out = f"v{index}"
        if kind in ("conv", "depthwise"):
            groups = p["in"] if kind == "depthwise" else 1
            tensors = [weight(f"l{index}.weight", (p["out"], p["in"] // groups, p["kernel"], p["kernel"]))]
            tensors += [weight(f"l{index}.bias", (p["out"],))] if p["bias"] else []
            pads = [p["padding"]] * 4
            nodes.append(helper.make_node("Conv", [current, *(t.name for t in tensors)], [out], group=groups,
                                          kernel_shape=[p["kernel"]] * 2, strides=[p["stride"]] * 2, pads=pads))
        elif kind == "norm":
            tensors = [weight(f"l{index}.{n}", (p["features"],)) for n in ("weight", "bias", "mean", "var")]
            nodes.append(helper.make_node("BatchNormalization", [current, *(t.name for t in tensors)], [out]))
        elif kind == "pool":
            tensors = []
            op = "MaxPool" if p["op"] == "max" else "AveragePool"
            nodes.append(helper.make_node(op, [current], [out], kernel_shape=[2, 2], strides=[2, 2]))
        elif kind in ("relu", "flatten"):
            tensors = []
            nodes.append(helper.make_node("Relu" if kind == "relu" else "Flatten", [current], [out]))
        else:
            tensors = [weight(f"l{index}.weight", (p["out"], p["in"]))]
            tensors += [weight(f"l{index}.bias", (p["out"],))] if p["bias"] else []
            nodes.append(helper.make_node("Gemm", [current, *(t.name for t in tensors)], [out], transB=1))
        inits += tensors
        count += sum(_numel(t.dims) for t in tensors)
        current = out
    proto = model(nodes, [value("x", [1, *shape])], [value(current, None)], inits)
    return proto, count


def _numel(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total
