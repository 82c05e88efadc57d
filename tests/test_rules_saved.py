"""What rules say a layer keeps for backward, computed by hand (device- and mode-dependent cases)."""

from __future__ import annotations

from auditor.ir import Layer, ParamTensor
from auditor.pass_facts import TensorFact
from auditor.rules import get_rule
from auditor.rules.saved import NEW, WEIGHT, SaveContext

CUDA, CPU = SaveContext("cuda"), SaveContext("cpu")


def _fact(dtype: str = "float32", grad: bool = True, strides: tuple[int, ...] | None = None) -> TensorFact:
    return TensorFact(dtype, storage=None, storage_bytes=None, requires_grad=grad, strides=strides)


def test_unknown_kinds_say_unknown_not_zero() -> None:
    layer = Layer("x", "tensor_op", "onnx:Gather", {}, [(2, 3)], [(2, 3)])
    assert get_rule("tensor_op").saved_for_backward(layer, CUDA) is None


def test_dropout_mask_is_one_byte_on_cuda_and_the_input_dtype_on_cpu() -> None:
    layer = Layer("d", "dropout", "torch.nn.Dropout", {"p": 0.1}, [(4, 8)], [(4, 8)], inputs=[_fact("bfloat16")])
    rule = get_rule("dropout")
    (cuda,) = rule.saved_for_backward(layer, CUDA)
    (cpu,) = rule.saved_for_backward(layer, CPU)
    assert (cuda.source, cuda.shape, cuda.dtype) == (NEW, (4, 8), "bool")
    assert cpu.dtype == "bfloat16"
    assert rule.saved_for_backward(layer, SaveContext("cuda", training=False)) == []
    channels = Layer("d", "dropout", "torch.nn.Dropout2d", {"p": 0.1, "channelwise": True}, [(2, 3, 5, 5)])
    assert rule.saved_for_backward(channels, CPU)[0].shape == (2, 3, 1, 1)


def test_linear_keeps_its_input_only_when_its_weight_trains() -> None:
    params = [ParamTensor("weight", (4, 8))]
    layer = Layer("fc", "dense", "torch.nn.Linear", {"in_features": 8, "out_features": 4, "use_bias": False},
                  [(2, 8)], [(2, 4)], params)
    assert [s.what for s in get_rule("dense").saved_for_backward(layer, CUDA)] == ["input"]
    frozen = Layer("fc", "dense", "torch.nn.Linear", layer.attrs, [(2, 8)], [(2, 4)],
                   [ParamTensor("weight", (4, 8), trainable=False)])
    assert get_rule("dense").saved_for_backward(frozen, CUDA) == []


def test_autocast_keeps_a_cast_input_and_a_cast_weight() -> None:
    layer = Layer("fc", "dense", "torch.nn.Linear", {"in_features": 8, "out_features": 4, "use_bias": False},
                  [(2, 8)], [(2, 4)], [ParamTensor("weight", (4, 8))], inputs=[_fact("float32")],
                  outputs=[_fact("bfloat16")])
    saved = get_rule("dense").saved_for_backward(layer, CUDA)
    assert [(s.source, s.dtype) for s in saved] == [(NEW, "bfloat16"), (WEIGHT, "bfloat16")]


def test_sdpa_kernel_choice_follows_pytorch_dispatch() -> None:
    q = (2, 4, 16, 64)
    layer = Layer("a", "sdpa", "torch.sdpa", {"dropout_p": 0.1}, [q, q, q], [q], inputs=[_fact("bfloat16")] * 3)
    rule = get_rule("sdpa")
    assert rule.kernel(layer, CUDA) == "flash"
    assert rule.kernel(layer, CPU) == "math"  # CPU's fused kernel has no dropout
    fp32 = Layer("a", "sdpa", "torch.sdpa", {"has_mask": True}, [q, q, q], [q], inputs=[_fact("float32")] * 3)
    assert rule.kernel(fp32, CUDA) == "efficient"
    assert rule.kernel(fp32, CPU) == "flash"
    names = [s.what for s in rule.saved_for_backward(layer, CPU)]
    assert names[:3] == ["q*sqrt(scale)", "kT*sqrt(scale)", "attention probabilities"]
    assert "dropout mask" in names


def test_max_pool_keeps_int64_indices_and_average_pool_nothing() -> None:
    attrs = {"op": "max", "kernel_size": (2, 2), "stride": (2, 2), "dilation": (1, 1), "padding": [(0, 0), (0, 0)],
             "ceil_mode": False, "layout": "channels_first"}
    layer = Layer("p", "pool", "torch.nn.MaxPool2d", attrs, [(1, 3, 8, 8)], [(1, 3, 4, 4)])
    saved = get_rule("pool").saved_for_backward(layer, CUDA)
    assert [(s.what, s.shape, s.dtype) for s in saved][1] == ("argmax indices", (1, 3, 4, 4), "int64")
    average = Layer("p", "pool", "torch.nn.AvgPool2d", {**attrs, "op": "avg"}, [(1, 3, 8, 8)], [(1, 3, 4, 4)])
    assert get_rule("pool").saved_for_backward(average, CUDA) == []


def test_lstm_native_kernel_keeps_seven_hidden_widths_per_step_and_is_unknown_on_cuda() -> None:
    attrs = {"cell": "lstm", "input_size": 10, "hidden_size": 12, "num_layers": 1, "bidirectional": False,
             "bias_vectors": 2, "proj_size": 0, "batch_first": False}
    layer = Layer("rnn", "rnn", "torch.nn.LSTM", attrs, [(7, 3, 10)], [(7, 3, 12)])
    saved = get_rule("rnn").saved_for_backward(layer, CPU)
    assert saved[1].shape == (1, 7, 7, 3, 12)
    assert get_rule("rnn").saved_for_backward(layer, CUDA) is None
