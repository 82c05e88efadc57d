"""The ONNX adapter on hand-written graphs (every translation path) and on exports of the seeds' models."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from support.onnx_graphs import conv_dense_graph, model, point_first_weight_at, save, value, weight

import auditor
from auditor import InputError, Status

onnx = pytest.importorskip("onnx")


def _audit(proto, tmp_path, **options):
    return auditor.audit(save(proto, str(tmp_path)), **options)


def _by_path(result):
    return {c.path: c for c in result.checks}


def test_conv_and_matmul_add_become_layers_with_their_weights(tmp_path):
    result = _audit(conv_dense_graph(), tmp_path)
    kinds = [c.kind for c in result.checks]
    assert kinds == ["conv", "activation", "global_pool", "flatten", "dense"]
    conv = result.checks[0]
    assert conv.status is Status.OK and conv.reported == 3 * 3 * 3 * 8 + 8
    assert conv.formula == "(3*3*3+1)*8 = 224"
    dense = result.checks[-1]
    assert dense.layer.attrs["use_bias"] is True, "the Add after the MatMul is the dense layer's bias"
    assert dense.reported == (8 + 1) * 4 and dense.status is Status.OK
    assert result.totals.reported == result.totals.analytic == 224 + 36
    assert conv.macs == 16 * 16 * 8 * 3 * 3 * 3


def test_weights_reached_through_identity_and_transpose_are_attributed(tmp_path):
    nodes = [
        helper.make_node("Identity", ["w_raw"], ["w_id"]),
        helper.make_node("Transpose", ["w_id"], ["w_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "w_t"], ["y"], name="proj"),
    ]
    proto = model(nodes, [value("x", [2, 6])], [value("y", None)], [weight("proj.weight", (5, 6))])
    proto.graph.initializer[0].name = "w_raw"
    result = _audit(proto, tmp_path)
    assert [c.kind for c in result.checks] == ["dense"], "the weight chain is not reported as layers"
    dense = result.checks[0]
    assert (dense.layer.attrs["in_features"], dense.layer.attrs["out_features"]) == (6, 5)
    assert dense.reported == 30 and dense.status is Status.OK


def test_unknown_op_is_an_unverified_row_in_an_otherwise_complete_report(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="conv"),
        helper.make_node("FancyNorm", ["c", "gamma"], ["n"], domain="com.example", name="fancy"),
        helper.make_node("Relu", ["n"], ["y"], name="relu"),
    ]
    proto = model(nodes, [value("x", [1, 4, 8, 8])], [value("y", None)],
                  [weight("w", (4, 4, 1, 1)), weight("gamma", (4,))])
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    result = _audit(proto, tmp_path)
    statuses = {c.path: c.status for c in result.checks}
    assert statuses["conv"] is Status.OK
    assert statuses["fancy"] is Status.UNVERIFIED
    assert "no rule" in _by_path(result)["fancy"].note
    assert result.totals.unverified == 4, "gamma is counted, as unverified, at the op that uses it"
    assert result.totals.reported == 16 + 4
    assert result.consistent, "unverified is not a mismatch (only --strict fails on it)"


def test_batchnorm_statistics_are_non_trainable_parameters(tmp_path):
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")]
    inits = [weight(n, (6,)) for n in ("s", "b", "m", "v")]
    result = _audit(model(nodes, [value("x", [1, 6, 4, 4])], [value("y", None)], inits), tmp_path)
    bn = result.checks[0]
    assert bn.kind == "batch_norm" and bn.status is Status.OK
    assert (bn.reported, bn.layer.reported_trainable) == (24, 12)
    assert result.totals.non_trainable == 12


def test_gather_from_a_float_table_is_an_embedding_and_a_shared_table_is_counted_once(tmp_path):
    nodes = [
        helper.make_node("Gather", ["emb.weight", "ids"], ["e"], name="embed"),
        helper.make_node("Gemm", ["e2", "emb.weight"], ["logits"], transB=1, name="lm_head"),
        helper.make_node("Reshape", ["e", "shape"], ["e2"], name="flat"),
    ]
    inits = [weight("emb.weight", (50, 8)), numpy_helper.from_array(np.array([-1, 8], dtype=np.int64), "shape")]
    proto = model(nodes, [value("ids", [3], TensorProto.INT64)], [value("logits", None)], inits)
    result = _audit(proto, tmp_path)
    layers = _by_path(result)
    assert layers["emb"].kind == "embedding" and layers["emb"].status is Status.OK
    head = next(c for c in result.checks if c.kind == "dense")
    assert head.layer.params[0].shared_with == "emb"
    assert head.reported == 0 and head.layer.shared_params == 400
    assert head.status is Status.OK, "a tied weight is checked against the rule where it is reused"
    assert result.totals.reported == 400 and result.totals.shared == 400


def test_rnn_ops_translate_with_two_bias_vectors_and_initial_states_are_not_parameters(tmp_path):
    hidden, inputs = 5, 3
    nodes = [helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0"], ["y"], hidden_size=hidden, name="lstm")]
    inits = [weight("W", (1, 4 * hidden, inputs)), weight("R", (1, 4 * hidden, hidden)),
             weight("B", (1, 8 * hidden)), weight("h0", (1, 2, hidden))]
    result = _audit(model(nodes, [value("x", [7, 2, inputs])], [value("y", None)], inits), tmp_path)
    lstm = next(c for c in result.checks if c.kind == "rnn")
    assert lstm.status is Status.OK
    assert lstm.reported == 4 * hidden * (inputs + hidden + 2)
    assert result.totals.reported == lstm.reported, "the zero initial state h0 is not a parameter"
    assert lstm.macs == 7 * 2 * 4 * hidden * (inputs + hidden)


def test_conv_transpose_pool_resize_and_concat_shapes_are_recomputed(tmp_path):
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt"], ["u"], kernel_shape=[2, 2], strides=[2, 2], name="up"),
        helper.make_node("MaxPool", ["u"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, name="pool"),
        helper.make_node("Resize", ["p", "", "scales"], ["r"], mode="nearest", name="resize"),
        helper.make_node("Concat", ["r", "r"], ["y"], axis=1, name="cat"),
    ]
    inits = [weight("wt", (4, 6, 2, 2)), numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")]
    result = _audit(model(nodes, [value("x", [1, 4, 5, 5])], [value("y", None)], inits), tmp_path)
    for check in result.checks:
        assert check.status in (Status.OK, Status.NO_PARAMS), (check.path, check.findings, check.note)
        assert check.analytic_output_shape is not None, check.path
    shapes = {c.path: c.analytic_output_shape for c in result.checks}
    assert shapes["up"] == (1, 6, 10, 10)
    assert shapes["pool"] == (1, 6, 5, 5)
    assert shapes["resize"] == (1, 6, 10, 10)
    assert shapes["cat"] == (1, 12, 10, 10)


def test_symbolic_batch_gives_macs_per_sample_until_an_input_shape_is_given(tmp_path):
    path = save(conv_dense_graph(batch="N"), str(tmp_path))
    result = auditor.audit(path)
    assert result.checks[0].status is Status.OK, "counts do not need the batch size"
    assert result.checks[0].macs == 16 * 16 * 8 * 27 and result.totals.macs_per_sample
    fixed = auditor.audit(path, input_shape=(2, 3, 16, 16))
    assert fixed.checks[0].macs == 2 * 16 * 16 * 8 * 27 and not fixed.totals.macs_per_sample


def test_a_symbolic_dim_other_than_the_batch_leaves_macs_unknown(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")]
    proto = model(nodes, [value("x", ["N", "seq", 6])], [value("y", None)], [weight("w", (6, 5))])
    result = _audit(proto, tmp_path)
    assert result.checks[0].status is Status.OK and result.checks[0].macs is None
    assert not result.totals.macs_complete


def test_input_shape_of_the_wrong_rank_is_refused(tmp_path):
    with pytest.raises(InputError, match="--input-shape has 2 dims"):
        auditor.audit(save(conv_dense_graph(), str(tmp_path)), input_shape=(1, 3))


def test_external_data_is_never_read_and_sizes_come_from_dims(tmp_path):
    proto = conv_dense_graph()
    onnx.save(proto, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.onnx.data", size_threshold=0)
    (tmp_path / "m.onnx.data").write_bytes(b"\0" * 8)  # wrong contents: reading them would show
    result = auditor.audit(str(tmp_path / "m.onnx"))
    assert result.totals.reported == 224 + 36


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../escape.bin"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location):
    proto = point_first_weight_at(conv_dense_graph(), location)
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(InputError, match="outside the model's folder"):
        auditor.audit(save(proto, str(folder)))


def test_missing_external_data_file_is_named_and_the_counts_come_from_dims(tmp_path):
    """Issue 17: people download only the graph of a huge model; counts never need the weight bytes."""
    proto = point_first_weight_at(conv_dense_graph(), "weights.bin")
    result = _audit(proto, tmp_path)
    assert result.totals.reported == 260 and result.consistent
    assert len(result.model.caveats) == 1 and "'weights.bin' (1 tensor) is absent" in result.model.caveats[0]


def test_a_cycle_is_reported_not_looped_on(tmp_path):
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Relu", ["a"], ["b"], name="r2")]
    proto = model(nodes, [value("x", [1])], [value("b", None)], [])
    with pytest.raises(InputError, match="cycle"):
        _audit(proto, tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"this is a text file, not a model\n", "not a valid ONNX model")],
)
def test_files_that_are_not_onnx_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        auditor.audit(str(path))
    assert "\n" not in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    whole = conv_dense_graph().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="not a valid ONNX model"):
        auditor.audit(str(path))


# --- exports of the seeds' models (torch.onnx.export, dynamo) -----------------------------------

torch = pytest.importorskip("torch")
reference_models = pytest.importorskip("reference_models")


def _export(name: str, folder) -> str:
    """Export reference `name` (real random weights, never all-zero) with the dynamo exporter."""
    module = reference_models.build(name, "torch", meta=False).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(0.5, 1.0)
    shape = reference_models.get_reference(name).input_shape
    path = os.path.join(str(folder), f"{name}.onnx")
    torch.onnx.export(module, (torch.randn(*shape),), path, dynamo=True, verbose=False)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    return {name: _export(name, folder) for name in ("lasagne-mnist", "lenet5", "vgg16")}


def test_seed000_export_reproduces_the_seed_answer_table(exported):
    result = auditor.audit(exported["lasagne-mnist"])
    weighted = [c for c in result.checks if c.reported]
    assert [c.formula for c in weighted] == [
        "(5*5*1+1)*32 = 832",
        "(3*3*32+1)*32 = 9,248",
        "(32*5*5+1)*256 = 205,056",
        "(256+1)*10 = 2,570",
    ]
    assert all(c.status is Status.OK for c in weighted)
    assert result.totals.reported == result.totals.analytic == 217_706
    sizes = [c.output_shape[1:] for c in result.checks if c.kind in ("conv", "pool", "dense")]
    assert sizes == [(32, 24, 24), (32, 12, 12), (32, 10, 10), (32, 5, 5), (256,), (10,)]


def test_lenet5_export_matches_seed004(exported):
    result = auditor.audit(exported["lenet5"])
    assert [c.reported for c in result.checks if c.reported] == [156, 2_416, 48_120, 10_164, 850]
    assert result.totals.reported == 61_706 and result.consistent


def test_vgg16_export_matches_the_seed003_breakdown(exported):
    result = auditor.audit(exported["vgg16"])
    counts = [c.reported for c in result.checks if c.reported]
    assert counts[:2] == [1_792, 36_928] and sum(counts[:2]) == 38_720
    assert counts[-3:] == [102_764_544, 16_781_312, 4_097_000]
    assert result.totals.reported == result.totals.analytic == 138_357_544
    assert all(c.status is Status.OK for c in result.checks if c.reported)
    assert result.totals.param_bytes == 138_357_544 * 4


def test_a_custom_domain_op_translated_through_the_public_registry(tmp_path):
    """A FusedDense op of a custom domain: no built-in translator, so its weights are unverified `parameter`
    rows until a translator says they are a dense layer's weight and bias; then the dense rule verifies them."""
    from adapters.onnx import Translation, register_op, unregister_op
    from auditor.registry import RegistryError

    nodes = [helper.make_node("FusedDense", ["x", "k", "b"], ["y"], domain="com.example", name="fused")]
    proto = model(nodes, [value("x", [1, 6])], [value("y", None)], [weight("k", (6, 3)), weight("b", (3,))])
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    path = save(proto, str(tmp_path))
    before = auditor.audit(path).checks
    assert [(c.kind, c.status, c.reported) for c in before] == [
        ("parameter", Status.UNVERIFIED, 18), ("parameter", Status.UNVERIFIED, 3),
        ("onnx:com.example.FusedDense", Status.UNVERIFIED, 0)]

    def fused_dense(node, graph, const):
        rows, cols = graph.shape(node.input[1])
        attrs = {"in_features": rows, "out_features": cols, "use_bias": True}
        return Translation("dense", attrs, [node.input[0]], [("weight", node.input[1]), ("bias", node.input[2])])

    register_op("com.example", "FusedDense", fused_dense)
    try:
        with pytest.raises(RegistryError, match="com.example:FusedDense"):
            register_op("com.example", "FusedDense", fused_dense)
        (check,) = auditor.audit(path).checks
    finally:
        unregister_op("com.example", "FusedDense")
    assert (check.kind, check.status, check.reported, check.formula) == ("dense", Status.OK, 21, "(6+1)*3 = 21")


def test_several_input_shapes_fix_the_inputs_in_order(tmp_path):
    nodes = [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")]
    proto = model(nodes, [value("a", ["n", "k"]), value("b", ["k", "m"])], [value("y", None)], [])
    audit = auditor.audit(save(proto, str(tmp_path)), input_shape="2x3;3x5")
    assert audit.model.input_shapes == [(2, 3), (3, 5)] and audit.checks[0].macs == 2 * 3 * 5
    with pytest.raises(InputError, match="3 input shapes given but the model has 2"):
        auditor.audit(save(proto, str(tmp_path)), input_shape="2x3;3x5;1x1")


def _prelu_graph(slope_shape):
    nodes = [helper.make_node("PRelu", ["x", "alpha"], ["y"], name="act")]
    return model(nodes, [value("x", ["batch", 8, 4, 4])], [value("y", None)], [weight("alpha", slope_shape)])


def test_prelu_alphas_are_recounted_from_the_input_not_read_back_from_the_weight(tmp_path):
    by_channel = _audit(_prelu_graph((8, 1, 1)), tmp_path).checks[0]
    assert (by_channel.kind, by_channel.status, by_channel.formula) == ("prelu", Status.OK, "8*1*1 = 8")
    assert by_channel.layer.attrs == {"shared_axes": (2, 3)}
    shared = _audit(_prelu_graph((1,)), tmp_path).checks[0]
    assert (shared.status, shared.analytic) == (Status.OK, 1)


def test_a_prelu_slope_that_does_not_fit_its_input_is_a_mismatch(tmp_path):
    check = _audit(_prelu_graph((6, 1, 1)), tmp_path).checks[0]
    assert (check.status, check.analytic, check.reported) == (Status.MISMATCH, 8, 6)
    assert "the layer has 6 parameters but its hyper-parameters give 8*1*1 = 8" in check.findings[0].message
