"""Where third-party ONNX files keep their weights, each pattern as a small graph with a hand-computed count.

Constant nodes (Paddle, tf2onnx), ConstantOfShape fills (the Model Zoo light graphs), parts and joins
of constants on their way to a weight slot, weights given as graph inputs (export_params=False), old
IR graphs that list initializers as inputs, control flow bodies, unknown shapes, schema defaults.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from support.onnx_graphs import model, save, value, weight

import auditor
from auditor import InputError, Status
from auditor.cli import main

onnx = pytest.importorskip("onnx")


def _audit(proto, tmp_path, **options):
    return auditor.audit(save(proto, str(tmp_path)), **options)


def _rows(result):
    return {c.path: c for c in result.checks}


def _ints(name: str, values: list[int]):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def test_constant_and_constant_of_shape_weights_are_parameters_of_the_layer_using_them(tmp_path):
    fill = helper.make_tensor("fill", TensorProto.FLOAT, [1], [0.0])
    nodes = [
        helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32))),
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], name="conv"),
        helper.make_node("ConstantOfShape", ["fc_shape"], ["fc_w"], value=fill),
        helper.make_node("Flatten", ["c"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc_w"], ["y"], transB=1, name="fc"),
    ]
    proto = model(nodes, [value("x", [1, 3, 5, 5])], [value("y", None)], [_ints("fc_shape", [10, 36])])
    result = _audit(proto, tmp_path)
    rows = _rows(result)
    assert (rows["conv"].reported, rows["conv"].status) == (3 * 3 * 3 * 4, Status.OK)
    assert (rows["fc"].reported, rows["fc"].status) == (36 * 10, Status.OK)
    assert result.totals.reported == result.totals.analytic == 108 + 360
    assert any("ConstantOfShape" in n and "1 tensor, 360 elements" in n for n in result.model.notes)


def test_a_split_qkv_weight_gives_each_projection_its_part_and_the_file_total_once(tmp_path):
    nodes = [
        helper.make_node("Split", ["attn.qkv"], ["wq", "wk", "wv"], axis=1, num_outputs=3),
        *[helper.make_node("MatMul", ["x", w], [o], name=n) for w, o, n in
          (("wq", "q", "q_proj"), ("wk", "k", "k_proj"), ("wv", "v", "v_proj"))],
    ]
    proto = model(nodes, [value("x", [2, 8])], [value(o, None) for o in "qkv"], [weight("attn.qkv", (8, 24))], opset=18)
    result = _audit(proto, tmp_path)
    assert [(c.path, c.reported, str(c.status)) for c in result.checks] == [
        ("q_proj", 64, "ok"), ("k_proj", 64, "ok"), ("v_proj", 64, "ok")]
    assert result.totals.reported == 8 * 24 and result.totals.shared == 0


def test_concat_slice_gather_and_reshape_chains_reach_the_weight_slot(tmp_path):
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], axis=0),  # (6, 5): two tensors make one weight
        helper.make_node("MatMul", ["x", "ab"], ["h"], name="joined"),
        helper.make_node("Slice", ["big", "starts", "ends"], ["part"]),  # rows 0..4 of an (8, 3) table
        helper.make_node("MatMul", ["h", "part"], ["h2"], name="sliced"),
        helper.make_node("Reshape", ["flat", "shape"], ["w2"]),
        helper.make_node("Transpose", ["w2"], ["w2t"], perm=[1, 0]),
        helper.make_node("MatMul", ["h2", "w2t"], ["y"], name="reshaped"),
    ]
    inits = [weight("a", (3, 5)), weight("b", (3, 5)), weight("big", (8, 3)), _ints("starts", [0]), _ints("ends", [5]),
             weight("flat", (12,)), _ints("shape", [4, 3])]
    result = _audit(model(nodes, [value("x", [2, 6])], [value("y", None)], inits), tmp_path)
    rows = _rows(result)
    assert [rows[p].reported for p in ("joined", "reshaped")] == [30, 12]
    assert all(rows[p].status is Status.OK for p in ("joined", "sliced", "reshaped"))
    (sliced,) = rows["sliced"].layer.params
    assert (sliced.shape, sliced.shared_with) == ((5, 3), "big"), "the rows it reads, verified, a use of the table"
    assert rows["big"].reported == 8 * 3, "the table as the file holds it, unread rows included"
    assert result.totals.reported == 30 + 8 * 3 + 12


def test_weights_given_as_graph_inputs_are_counted_with_a_note(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], kernel_shape=[1, 1], name="conv"),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1, name="fc"),
    ]
    inputs = [value("x", [1, 2, 3, 3]), value("conv.weight", [4, 2, 1, 1]), value("conv.bias", [4]),
              value("fc.weight", [5, 36]), value("fc.bias", [5])]
    result = _audit(model(nodes, inputs, [value("y", None)], []), tmp_path)
    rows = _rows(result)
    assert (rows["conv"].reported, rows["fc"].reported) == ((2 + 1) * 4, (36 + 1) * 5)
    assert rows["conv"].status is Status.OK and rows["fc"].status is Status.OK
    assert [s[1:] for s in result.model.input_shapes] == [(2, 3, 3)], "the weights are not model inputs"
    assert any("export_params=False" in n and "4 tensors" in n for n in result.model.notes)


def test_old_ir_graphs_listing_initializers_as_inputs_count_each_once(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], name="conv")]
    inputs = [value("x", [1, 3, 8, 8]), value("w", [8, 3, 3, 3]), value("b", [8])]
    proto = model(nodes, inputs, [value("y", None)], [weight("w", (8, 3, 3, 3)), weight("b", (8,))], opset=9)
    proto.ir_version = 3
    result = _audit(proto, tmp_path)
    assert result.totals.reported == result.totals.analytic == (27 + 1) * 8
    assert not any("export_params" in n for n in result.model.notes)
    assert len(result.model.input_shapes) == 1


def test_weight_normalisation_keeps_the_direction_as_the_weight_and_counts_the_magnitude(tmp_path):
    nodes = [
        helper.make_node("ReduceL2", ["v"], ["norm"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Div", ["g", "norm"], ["ratio"]),
        helper.make_node("Mul", ["v", "ratio"], ["w"]),
        helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], name="conv"),
    ]
    inits = [weight("v", (4, 2, 3, 3)), weight("g", (4, 1, 1, 1))]
    result = _audit(model(nodes, [value("x", [1, 2, 6, 6])], [value("y", None)], inits, opset=13), tmp_path)
    rows = _rows(result)
    assert (rows["conv"].reported, rows["conv"].status) == (72, Status.OK)
    assert rows["g"].kind == "parameter" and rows["g"].reported == 4, "the magnitude is counted, not dropped"
    assert result.totals.reported == 76


def test_a_tensor_computed_with_but_owned_by_no_layer_is_unattributed_and_fails_strict(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1], name="conv"),
        helper.make_node("Transpose", ["orphan"], ["orphan_t"], perm=[1, 0]),  # a weight chain leading nowhere
    ]
    inits = [weight("w", (2, 2, 1, 1)), weight("orphan", (6, 5))]
    proto = model(nodes, [value("x", [1, 2, 4, 4])], [value("y", None)], inits)
    result = _audit(proto, tmp_path)
    assert result.totals.reported == 4 and result.totals.unattributed == 30
    assert [t.name for t in result.model.unattributed] == ["orphan"]
    assert result.totals.verified_fraction == pytest.approx(4 / 34), "never 100% with a tensor nobody owns"
    path = str(tmp_path / "model.onnx")
    assert main([path]) == 0 and main([path, "--strict"]) == 1


def test_minus_one_dims_and_missing_value_info_are_symbolic_not_invalid(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    proto = model(nodes, [value("x", [-1, 3, -1, -1])], [value("y", [-1, 8, -1, -1])], [weight("w", (8, 3, 3, 3))])
    proto.graph.value_info.append(value("c", [-1, 8, -1, -1]))
    result = _audit(proto, tmp_path)
    conv = result.checks[0]
    assert conv.status is Status.OK and conv.reported == 216 and conv.macs is None
    assert result.consistent


def test_an_rnn_whose_input_shape_cannot_be_inferred_is_verified_without_macs(tmp_path):
    nodes = [
        helper.make_node("NonZero", ["mask"], ["idx"], name="nz"),  # data-dependent: shapes after it are unknown
        helper.make_node("Cast", ["idx"], ["idx_f"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("Unsqueeze", ["idx_f", "axes"], ["seq"], name="unsq"),
        helper.make_node("LSTM", ["seq", "W", "R", "B"], ["h"], hidden_size=4, name="lstm"),
        helper.make_node("Conv", ["h", "cw"], ["y"], kernel_shape=[1, 1], name="conv"),
    ]
    inits = [weight("W", (1, 16, 1)), weight("R", (1, 16, 4)), weight("B", (1, 32)), _ints("axes", [2]),
             weight("cw", (3, 1, 1, 1))]
    proto = model(nodes, [value("mask", [5], TensorProto.BOOL)], [value("y", None)], inits)
    result = _audit(proto, tmp_path)
    rows = _rows(result)
    assert rows["lstm"].status is Status.OK and rows["lstm"].reported == 4 * 4 * (1 + 4 + 2)
    assert rows["lstm"].macs is None
    assert rows["conv"].status is Status.OK and rows["conv"].reported == 3, "verified from its weight's shape"


def test_parameter_free_ops_are_no_params_not_unverified(tmp_path):
    nodes = [
        helper.make_node("LRN", ["x"], ["n"], size=3, name="lrn"),
        helper.make_node("Shrink", ["n"], ["s"], name="shrink"),
        helper.make_node("SequenceConstruct", ["s", "s"], ["seq"], name="seq"),
        helper.make_node("SequenceAt", ["seq", "zero"], ["y"], name="at"),
    ]
    proto = model(nodes, [value("x", [1, 4, 3, 3])], [value("y", None)], [_ints("zero", [0])])
    result = _audit(proto, tmp_path)
    assert {c.path: str(c.status) for c in result.checks} == dict.fromkeys(("lrn", "shrink", "seq", "at"), "no-params")


@pytest.mark.parametrize("opset, axis", [(11, 1), (13, -1)])
def test_attribute_defaults_come_from_the_schema_of_the_models_opset(tmp_path, opset, axis):
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="softmax")]
    result = _audit(model(nodes, [value("x", [2, 3, 4])], [value("y", None)], [], opset=opset), tmp_path)
    assert result.checks[0].layer.attrs["axis"] == axis


@pytest.mark.parametrize("op, inputs, attr", [
    ("Concat", ["x", "x"], "axis"),
    ("GroupNormalization", ["x", "s", "b"], "num_groups"),
])
def test_a_missing_required_attribute_is_a_malformed_file(tmp_path, op, inputs, attr):
    proto = model([helper.make_node(op, inputs, ["y"], name="node")], [value("x", [1, 4, 2, 2])], [value("y", None)],
                  [weight("s", (4,)), weight("b", (4,))], opset=21)
    with pytest.raises(InputError, match=f"lacks its required attribute '{attr}'.*malformed"):
        _audit(proto, tmp_path)


def _branch(name: str, nodes: list, initializers: list | None = None):
    return helper.make_graph(nodes, name, [], [value(f"{name}_y", None)], initializers or [])


def test_if_branches_share_an_outer_weight_and_keep_their_own(tmp_path):
    then = _branch("then", [
        helper.make_node("MatMul", ["x", "shared.weight"], ["t1"], name="t_shared"),
        helper.make_node("MatMul", ["t1", "then.weight"], ["then_y"], name="t_own"),
    ], [weight("then.weight", (5, 2))])
    other = _branch("else", [helper.make_node("MatMul", ["x", "shared.weight"], ["else_y"], name="e_shared")])
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other, name="pick")]
    inputs = [value("cond", [], TensorProto.BOOL), value("x", [1, 3])]
    result = _audit(model(nodes, inputs, [value("y", None)], [weight("shared.weight", (3, 5))]), tmp_path)
    rows = _rows(result)
    assert list(rows) == ["pick", "pick/then_branch/shared", "pick/then_branch/then", "pick/else_branch/shared"]
    assert rows["pick/then_branch/shared"].reported == 15
    reuse = rows["pick/else_branch/shared"]
    assert reuse.layer.params[0].shared_with == "pick/then_branch/shared" and reuse.status is Status.OK
    assert result.totals.reported == result.totals.analytic == 15 + 10, "what the file holds, once"


def test_one_element_tensors_inside_a_body_are_treated_as_outside(tmp_path):
    def head(prefix: str) -> list:
        return [helper.make_node("MatMul", ["x", f"{prefix}.w"], [f"{prefix}_m"], name=f"{prefix}_mm"),
                helper.make_node("Add", [f"{prefix}_m", f"{prefix}.b"], [f"{prefix}_y"], name=f"{prefix}_add")]

    body = helper.make_graph(head("inner"), "then", [], [value("inner_y", None)],
                             [weight("inner.w", (3, 1)), weight("inner.b", (1,))])
    other = _branch("else", [helper.make_node("Identity", ["x"], ["else_y"])])
    nodes = [*head("outer"), helper.make_node("If", ["cond"], ["y"], then_branch=body, else_branch=other, name="if")]
    inputs = [value("cond", [], TensorProto.BOOL), value("x", [2, 3])]
    proto = model(nodes, inputs, [value("y", None), value("outer_y", None)], [weight("outer.w", (3, 1)),
                                                                              weight("outer.b", (1,))])
    rows = _rows(_audit(proto, tmp_path))
    assert rows["outer"].reported == rows["if/then_branch/inner"].reported == 4, "the one-element bias counts in both"
