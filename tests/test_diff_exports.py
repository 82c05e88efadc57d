"""The export passes on hand-built IRs (no framework): each rewrite an exporter makes, and a real change
that none of them explains."""

from __future__ import annotations

from support import diff_models as M

from auditor.count import audit_ir
from auditor.diff import diff_audits
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.reconcile import counted


def norm(path, c, *, center=True, shared=None):
    params = [ParamTensor(f"{path}.weight" if shared is None else shared, (c,), shared_with=None)]
    if center:
        params.append(ParamTensor(f"{path}.bias", (c,)))
    return Layer(path, "layer_norm", "test:LayerNorm", {"normalized_shape": (c,), "scale": True, "center": center},
                 [(1, 4, c)], [(1, 4, c)], params)


def constant(path, shape):
    return Layer(path, "parameter", "onnx:initializer used by Add", {}, [], [shape], [ParamTensor(path, shape)])


def model(layers, tensors=None):
    ir = M.model("net", layers, "torch")
    ir.tensors = tensors or {}
    return ir


def export(layers, inputs=((1, 4),)):
    ir = M.model("net.onnx", layers, "onnx")
    ir.input_shapes = list(inputs)
    return ir


def diff(left, right):
    return diff_audits(audit_ir(left), audit_ir(right))


def causes(d):
    return {(f.code, f.amount) for row in d.rows for f in counted(row.findings)}


def test_a_merged_bias_and_a_dropped_zero_bias():
    left = model([M.dense("a", 8, 8), M.dense("b", 8, 8), M.dense("c", 8, 8)])
    b = M.dense("b", 8, 8)
    b.params[1] = ParamTensor("a.bias", (8,), shared_with="a")
    right = export([M.dense("a", 8, 8), b, M.dense("c", 8, 8, bias=False)])
    d = diff(left, right)
    assert causes(d) == {("merged_tensors", -8), ("zero_bias_dropped", -8)}
    assert d.equivalent and d.reconciliation.unexplained == 0


def test_a_norm_that_lost_its_shift_and_a_module_the_export_prunes():
    left = model([M.dense("a", 8, 8), norm("ln", 8), M.dense("pooler", 8, 8)])
    right = export([M.dense("a", 8, 8), norm("ln", 8, center=False)])
    assert causes(diff(left, right)) == {("identity_norm_dropped", -8), ("pruned", -72)}


def test_a_tensor_written_under_another_name_a_slice_and_a_mask():
    """ViT's cls token through an expand, its positions as a row of their own, BERT's positions folded to
    the 4 used, an attention mask."""
    cls, table = ParamTensor("cls_token", (1, 1, 8)), ParamTensor("position_embeddings", (1, 5, 8))
    embeddings = Layer("emb", "torch:Embeddings", "test:Embeddings", {}, [(1, 4)], [(1, 5, 8)], [cls, table])
    positions = Layer("pos", "embedding", "test:Embedding", {"num_embeddings": 64, "embedding_dim": 8}, [(1, 4)],
                      [(1, 4, 8)], [ParamTensor("weight", (64, 8))])
    names = {"emb.cls_token": cls, "emb.position_embeddings": table, "pos.weight": positions.params[0]}
    left = model([embeddings, positions, M.dense("fc", 8, 8)], names)
    own_row = Layer("emb#2", "parameter", "onnx:initializer used by Add", {}, [], [(1, 5, 8)],
                    [ParamTensor("emb.position_embeddings", (1, 5, 8))])
    right = export([constant("expand", (1, 1, 8)), own_row, constant("embedding_2", (1, 4, 8)),
                    constant("val_9", (1, 1, 4, 4)), M.dense("fc", 8, 8)])
    d = diff(left, right)
    assert causes(d) == {("regrouped", -8), ("regrouped", 8), ("sliced_constant", -512), ("sliced_constant", 32),
                         ("constant_initializer", 16)}
    assert d.equivalent


def test_a_buffer_written_as_an_initializer():
    root = Layer("net", "torch:Net", "test:Net", {}, [(1, 4)], [], [ParamTensor("scale", (4,), False, True)])
    left = model([root, M.dense("fc", 8, 4)], {"scale": ParamTensor("scale", (4,), False, True)})
    right = export([M.dense("fc", 8, 4), constant("scale", (4,))])
    assert causes(diff(left, right)) == {("buffers_as_constants", 0), ("buffer_initializer", 4)}


def test_a_real_change_in_the_export_is_not_equivalent():
    """An export of another version of the model (a 5x5 kernel): a difference no exporter makes."""
    left = model([M.conv("c", 3, 8, 3), M.dense("fc", 8, 4)])
    right = export([M.conv("c", 3, 8, 5), M.dense("fc", 8, 4)])
    d = diff(left, right)
    assert causes(d) == {("kernel_size", (5 * 5 * 3 + 1) * 8 - (3 * 3 * 3 + 1) * 8)}
    assert d.differs and not d.equivalent


def test_names_pair_an_export_whose_order_differs():
    """Equal counts in another order (a residual branch listed elsewhere): paired by the exporter's names."""
    layers = [M.conv("a", 4, 4, 1), M.conv("b", 4, 4, 3, bias=False), M.conv("c", 4, 4, 1, bias=False)]
    reordered = [M.conv("c", 4, 4, 1, bias=False), M.conv("a", 4, 4, 1), M.conv("b", 4, 4, 3, bias=False)]
    d = diff(model(layers), export(reordered))
    assert not d.differs and all(row.left.name == row.right.name for row in d.rows)


def test_not_an_export_pair_leaves_the_rows_alone():
    """Two models, neither an export: a missing layer stays a missing layer."""
    left = ModelIR("a", "torch", "a", [M.dense("a", 8, 8), M.dense("b", 8, 8)])
    right = ModelIR("b", "torch", "b", [M.dense("a", 8, 8)])
    assert causes(diff(left, right)) == {("missing_layer", -72)}
