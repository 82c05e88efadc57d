"""Convolutions of any rank: plain/grouped/depthwise, transposed, and Keras separable.

Canonical attrs: in_channels, out_channels, kernel_size, stride, dilation, padding, groups,
use_bias, layout (see `spatial`); conv_transpose adds output_padding (a tuple, or "auto": Keras's
None, the smallest output the stride allows) and reads "same" padding as output = input*stride (ONNX's
auto_pad, Keras's output_padding=None); Keras's "same" with an explicit output_padding is a different
thing, canonical padding "half": extent//2 on both sides of every axis) and may carry output_size
(ONNX's output_shape: the spatial output asked for, the pads following from it); separable_conv adds
depth_multiplier.  Parameters: weight prod(kernel)*(in/groups)*out, plus one bias per output channel.
MACs: every output element costs prod(kernel)*in/groups multiply-accumulates (bias excluded);
a transposed conv is measured on its input: every input element feeds prod(kernel)*out/groups.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from auditor.ir import Layer, Shape
from auditor.rules.base import (
    ParamCount,
    Rule,
    RuleError,
    Term,
    attr,
    first_input,
    per_output_count,
    product_text,
    static_numel,
)
from auditor.rules.registry import register
from auditor.rules.saved import weighted_inputs
from auditor.rules.spatial import (
    UNKNOWN,
    effective_kernel,
    explicit_pads,
    join_channels,
    same_transposed_output,
    split_channels,
    transposed_output,
    window_attrs,
    window_output,
)

if TYPE_CHECKING:
    from auditor.rules.change import Change
    from auditor.rules.saved_records import SaveContext, SavedTensor


def _channels(layer: Layer) -> tuple[int, int, int]:
    """(in_channels, out_channels, groups), checked for divisibility and against the input shape."""
    cin, cout = int(attr(layer, "in_channels")), int(attr(layer, "out_channels"))
    groups = int(layer.attrs.get("groups", 1))
    if groups < 1 or cin % groups or cout % groups:
        raise RuleError(f"in_channels {cin} and out_channels {cout} must divide by groups {groups}")
    if layer.input_shapes:
        kernel = attr(layer, "kernel_size")
        _, seen, _ = split_channels(first_input(layer), len(kernel), attr(layer, "layout"))
        if isinstance(seen, int) and seen != cin:
            raise RuleError(f"input has {seen} channels but the layer declares in_channels={cin}")
    return cin, cout, groups


def _per_group(cin: int, groups: int) -> str:
    return str(cin) if groups == 1 else f"{cin}/{groups}"


def conv_output_shape(layer: Layer, out_channels: int) -> Shape:
    """Output shape of a (non-transposed) conv or pooling window over the layer's first input."""
    kernel, stride, dilation = window_attrs(layer.attrs)
    lead, _, spatial = split_channels(first_input(layer), len(kernel), attr(layer, "layout"))
    pads = explicit_pads(attr(layer, "padding"), spatial, kernel, stride, dilation)
    ceil_mode = bool(layer.attrs.get("ceil_mode", False))
    if pads is None:
        out_spatial: Shape = tuple(UNKNOWN for _ in spatial)
    else:
        out_spatial = tuple(
            window_output(n, k, s, d, b, e, ceil_mode)
            for n, k, s, d, (b, e) in zip(spatial, kernel, stride, dilation, pads)
        )
    return join_channels(lead, out_channels, out_spatial, attr(layer, "layout"))


def _spatial_positions(shape: Shape, kernel_rank: int, layout: str, what: str) -> int:
    """Batch x spatial positions of `shape` (everything but the channel dim)."""
    lead, _, spatial = split_channels(shape, kernel_rank, layout)
    return static_numel((*lead, *spatial), what)


CONV_COLUMNS = {
    "in_channels": "in_channels", "out_channels": "out_channels", "kernel_size": "kernel_size",
    "groups": "groups", "use_bias": "use_bias", "stride": "stride",
}
"""Expectation-table columns of a conv: each states the attribute of its own name."""


class ConvRule(Rule):
    """Convolution: (prod(k)*in/groups + 1)*out parameters; MACs per output element prod(k)*in/groups."""

    kind = "conv"
    biases = {"use_bias": False}
    family = "conv"
    perturbable: ClassVar[tuple[str, ...]] = ("kernel_size", "use_bias", "in_channels", "out_channels", "groups")
    columns = CONV_COLUMNS
    aliases: ClassVar[tuple[str, ...]] = ("conv1d", "conv2d", "conv3d", "convolution", "conv2dlayer")
    table_prefixes: ClassVar[tuple[str, ...]] = ("conv",)

    def count(self, layer: Layer) -> ParamCount:
        cin, cout, groups = _channels(layer)
        kernel = tuple(attr(layer, "kernel_size"))
        taps = f"{product_text(kernel)}*{_per_group(cin, groups)}"
        return per_output_count(math.prod(kernel) * (cin // groups), taps, cout, bool(layer.attrs.get("use_bias", True)))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [conv_output_shape(layer, int(attr(layer, "out_channels")))]

    def macs(self, layer: Layer) -> int:
        cin, cout, groups = _channels(layer)
        kernel = tuple(int(k) for k in attr(layer, "kernel_size"))
        out = conv_output_shape(layer, cout)
        positions = _spatial_positions(out, len(kernel), attr(layer, "layout"), "conv output size")
        return positions * cout * math.prod(kernel) * (cin // groups)

    def describe(self, layer: Layer) -> str:
        k = "x".join(str(x) for x in layer.attrs.get("kernel_size", ()))
        g = layer.attrs.get("groups", 1)
        return f"{k}, {layer.attrs.get('in_channels')}->{layer.attrs.get('out_channels')}" + (
            f", groups={g}" if g != 1 else ""
        )

    def merged_towers(self, layer: Layer) -> dict[str, Any]:
        """groups=1 for a grouped conv split into towers (AlexNet's two GPUs); a depthwise conv is no split."""
        cin, _, groups = _channels(layer)
        return {"groups": 1} if 1 < groups < cin else {}

    def reason(self, change: Change) -> str | None:
        if change.attr != "groups":
            return None
        return (
            f"it is a grouped conv with groups={change.contrast(str(change.old), str(change.new))}: with groups=g "
            f"each filter sees only in_channels/g inputs (the two-tower split)"
        )

    def candidates(self, layer: Layer, attr: str) -> list[int] | None:
        """Groups: every divisor of both channel counts."""
        if attr != "groups":
            return None
        channels = math.gcd(int(layer.attrs.get("in_channels", 1)), int(layer.attrs.get("out_channels", 1)))
        current = layer.attrs.get(attr)
        return [g for g in range(1, channels + 1) if channels % g == 0 and g != current]

    def search_step(self, layer: Layer, attr: str) -> int:
        """Channels of a grouped conv come in multiples of the groups."""
        if attr in ("in_channels", "out_channels"):
            return max(int(layer.attrs.get("groups", 1)), 1)
        return 1

    def saved_for_backward(self, layer: Layer, context: SaveContext) -> list[SavedTensor]:
        """The input, for the kernel's gradient (the kernel is a parameter)."""
        return weighted_inputs(layer)


class ConvTransposeRule(ConvRule):
    """Transposed convolution: prod(k)*in*out/groups + out parameters; MACs measured on the input."""

    kind = "conv_transpose"
    perturbable: ClassVar[tuple[str, ...]] = ("kernel_size", "use_bias", "in_channels", "out_channels", "groups")
    aliases: ClassVar[tuple[str, ...]] = ("conv_transpose", "convtranspose2d", "conv2dtranspose", "deconv", "deconvolution")
    table_prefixes = ()

    def count(self, layer: Layer) -> ParamCount:
        cin, cout, groups = _channels(layer)
        kernel = tuple(attr(layer, "kernel_size"))
        weight = math.prod(kernel) * cin * (cout // groups)
        if groups == 1:
            return super().count(layer)
        taps = f"{product_text(kernel)}*{cin}*{cout}/{groups}"
        if layer.attrs.get("use_bias", True):
            return ParamCount.of(Term(f"{taps}+{cout}", weight + cout))
        return ParamCount.of(Term(taps, weight))

    def output_shapes(self, layer: Layer) -> list[Shape]:
        kernel, stride, dilation = window_attrs(layer.attrs)
        layout = attr(layer, "layout")
        lead, _, spatial = split_channels(first_input(layer), len(kernel), layout)
        out_pad = _output_padding(layer.attrs.get("output_padding"), kernel, stride, dilation, attr(layer, "padding"))
        padding = attr(layer, "padding")
        size = layer.attrs.get("output_size")
        if size is not None:
            out_spatial = _requested_output(tuple(int(o) for o in size)[-len(kernel):], spatial, kernel, stride,
                                            dilation, out_pad)
        elif padding in ("same_upper", "same_lower"):
            out_spatial = tuple(same_transposed_output(n, s) for n, s in zip(spatial, stride))
        else:
            pads = _transposed_pads(padding, kernel, dilation)
            out_spatial = tuple(
                transposed_output(n, k, s, d, b, e, p)
                for n, k, s, d, (b, e), p in zip(spatial, kernel, stride, dilation, pads, out_pad)
            )
        return [join_channels(lead, int(attr(layer, "out_channels")), out_spatial, layout)]

    def macs(self, layer: Layer) -> int:
        cin, cout, groups = _channels(layer)
        kernel = tuple(int(k) for k in attr(layer, "kernel_size"))
        positions = _spatial_positions(first_input(layer), len(kernel), attr(layer, "layout"), "input size")
        return positions * cin * math.prod(kernel) * (cout // groups)


def _requested_output(size: tuple[int, ...], spatial: Shape, kernel: tuple[int, ...], stride: tuple[int, ...],
                      dilation: tuple[int, ...], out_pad: tuple[int, ...]) -> Shape:
    """An explicit output size (ONNX output_shape): reachable when the padding it implies is not negative."""
    for n, o, k, s, d, p in zip(spatial, size, kernel, stride, dilation, out_pad):
        if isinstance(n, int) and s * (n - 1) + p + effective_kernel(k, d) - o < 0:
            raise RuleError(f"output size {o} is larger than a transposed conv of {n} can produce")
    return size


def _output_padding(
    value: object, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], padding: object
) -> tuple[int, ...]:
    """Explicit output padding; "auto" is Keras's output_padding=None: "valid" grows to n*s + max(k-s, 0)."""
    if value == "auto":
        if padding == "valid":
            return tuple(max(s - effective_kernel(k, d), 0) for k, s, d in zip(kernel, stride, dilation))
        return (0,) * len(kernel)
    if not value:
        return (0,) * len(kernel)
    if not isinstance(value, (tuple, list)):
        raise RuleError(f"output_padding {value!r} is neither a tuple nor 'auto'")
    return tuple(int(p) for p in value)


def _transposed_pads(padding: object, kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    """Explicit pads of a transposed conv ("same" never gets here: its output is n*s)."""
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "half":
        halves = [effective_kernel(k, d) // 2 for k, d in zip(kernel, dilation)]
        return [(h, h) for h in halves]
    if isinstance(padding, (tuple, list)) and len(padding) == len(kernel):
        return [(int(b), int(e)) for b, e in padding]
    raise RuleError(f"padding {padding!r} is not canonical for a transposed conv")


class SeparableConvRule(Rule):
    """Keras separable conv: depthwise prod(k)*in*m, pointwise in*m*out, bias out."""

    kind = "separable_conv"
    biases = {"use_bias": False}
    family = "conv"
    perturbable = ("kernel_size", "use_bias", "in_channels", "out_channels", "depth_multiplier")
    columns = {k: v for k, v in CONV_COLUMNS.items() if k != "groups"}
    aliases = ("separableconv2d", "separable_conv")

    def count(self, layer: Layer) -> ParamCount:
        cin, cout, _ = _channels(layer)
        m = int(layer.attrs.get("depth_multiplier", 1))
        kernel = tuple(attr(layer, "kernel_size"))
        terms = [Term(f"{product_text(kernel)}*{cin}*{m}", math.prod(kernel) * cin * m),
                 Term(f"{cin}*{m}*{cout}", cin * m * cout)]
        if layer.attrs.get("use_bias", True):
            terms.append(Term(str(cout), cout))
        return ParamCount.of(*terms)

    def output_shapes(self, layer: Layer) -> list[Shape]:
        return [conv_output_shape(layer, int(attr(layer, "out_channels")))]

    def macs(self, layer: Layer) -> int:
        cin, cout, _ = _channels(layer)
        m = int(layer.attrs.get("depth_multiplier", 1))
        kernel = tuple(int(k) for k in attr(layer, "kernel_size"))
        out = conv_output_shape(layer, cout)
        positions = _spatial_positions(out, len(kernel), attr(layer, "layout"), "conv output size")
        return positions * (cin * m * math.prod(kernel) + cin * m * cout)


for _rule in (ConvRule(), ConvTransposeRule(), SeparableConvRule()):
    register(_rule)

__all__ = ["ConvRule", "ConvTransposeRule", "SeparableConvRule", "conv_output_shape"]
