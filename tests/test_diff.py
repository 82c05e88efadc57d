"""Diffs: alignment with gaps, the seed scenarios on hand-built IRs, and end to end through the adapters."""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import diff_models as M

from auditor.count import audit_ir
from auditor.diff import SCHEMA, Entry, RowStatus, align, diff_audits, diff_expectation, match
from auditor.expect import read_table
from auditor.ir import Layer, ParamTensor
from auditor.report.diff import diff_to_dict, render_diff

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SEED_001 = os.path.join(FIXTURES, "unet_seed001_hand.csv")
UP_CONV_ROWS = ["conv2d_11", "conv2d_14", "conv2d_17", "conv2d_20"]




def codes(row):
    return [f.code for f in row.findings]


def differing(diff):
    return [row for row in diff.rows if row.status != RowStatus.SAME]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- alignment ------------------------------------------------------------------------------------

KINDS = st.sampled_from(["conv", "dense", "batch_norm", "rnn"])
ENTRIES = st.lists(st.tuples(KINDS, st.integers(1, 10**7)), min_size=2, max_size=30, unique_by=lambda e: e[1])


@settings(max_examples=60, deadline=None)
@given(ENTRIES, st.data())
def test_one_missing_layer_leaves_every_other_row_in_place(entries, data):
    left = [Entry(f"l{i}", kind, n) for i, (kind, n) in enumerate(entries)]
    gone = data.draw(st.integers(0, len(left) - 1))
    right = [Entry(f"r{i}", e.kind, e.params) for i, e in enumerate(left) if i != gone]
    pairs = align(left, right)
    matched = {(i, j) for i, j in pairs if i is not None and j is not None}
    assert (gone, None) in pairs
    assert matched == {(i, i if i < gone else i - 1) for i in range(len(left)) if i != gone}


def test_names_are_only_hints():
    left = [Entry("conv2d_10", "conv", 5), Entry("conv2d_11", "conv", 7)]
    right = [Entry("conv2d_11", None, 5), Entry("conv2d_12", None, 7)]
    assert align(left, right) == [(0, 0), (1, 1)]


# --- seed 001: the U-Net and the user's hand table ------------------------------------------------


def check_seed_001(diff):
    flagged = differing(diff)
    assert [row.right.name for row in flagged] == UP_CONV_ROWS
    for row in flagged:
        assert codes(row) == ["kernel_size"]
        assert "its kernel is 2x2, not 3x3" in row.findings[0].message
    assert sum(row.status == RowStatus.SAME for row in diff.rows) == 20
    assert diff.left_total == M.UNET_TOTAL and diff.differs


def test_seed_001_on_a_hand_built_unet():
    diff = diff_expectation(audit_ir(M.unet()), read_table(SEED_001))
    check_seed_001(diff)
    first = differing(diff)[0]
    assert first.left.name == "conv2d_10" and first.right.name == "conv2d_11"
    assert first.findings[0].message.startswith(
        "conv2d_10 (your conv2d_11): your table expects 4,719,104 = (3*3*1024+1)*512 but the layer has "
        "2,097,664 = (2*2*1024+1)*512")
    assert first.right.formula == "(3*3*1024+1)*512 = 4,719,104"
    assert "columns not used: out_size, should_be" in diff.notes


def test_seed_001_without_the_kernel_column_still_finds_the_kernels(tmp_path):
    rows = [(r.layer, r.params) for r in read_table(SEED_001).weighted_rows]
    path = write(tmp_path, "counts.csv", "layer,params\n" + "".join(f"{n},{p}\n" for n, p in rows))
    diff = diff_expectation(audit_ir(M.unet()), read_table(path))
    assert [codes(row) for row in differing(diff)] == [["kernel_size"]] * 4


# --- seeds 003/004: VGG-16 weights only, AlexNet towers, LeNet flatten ----------------------------


def test_vgg16_against_a_weights_only_table_is_all_bias(tmp_path):
    rows = M.vgg16_weights_only_rows()
    path = write(tmp_path, "cs231n.csv", "layer,params\n" + "".join(f"{n},{c}\n" for n, c in rows)
                 + "TOTAL,138344128\n")
    diff = diff_expectation(audit_ir(M.vgg16()), read_table(path))
    assert len(diff.rows) == 16 and all(codes(row) == ["bias"] for row in diff.rows)
    conv3 = diff.rows[4]
    assert (conv3.left_params, conv3.right_params) == (295_168, 294_912)
    assert [f.code for f in diff.findings] == ["total"]
    assert "138,344,128" in diff.findings[0].message and "138,357,544" in diff.findings[0].message


def test_alexnet_single_tower_vs_two_towers_is_groups():
    diff = diff_audits(audit_ir(M.alexnet()), audit_ir(M.alexnet(two_tower=True)))
    assert diff.left_total == M.ALEXNET_TOTAL
    assert [(row.left.name, codes(row)) for row in differing(diff)] == [
        ("conv2", ["groups"]), ("conv4", ["groups"]), ("conv5", ["groups"])]


def test_lenet_with_a_wrong_flatten_size_is_dense_input(tmp_path):
    diff = diff_audits(audit_ir(M.lenet()), audit_ir(M.lenet(flat_side=6)))
    assert diff.left_total == M.LENET_TOTAL
    assert [(row.left.name, codes(row)) for row in differing(diff)] == [("fc1", ["dense_input"])]
    table = write(tmp_path, "lenet.csv", "layer,params\nC1,156\nC3,2416\nF5,69240\nF6,10164\nOUT,850\n")
    rows = differing(diff_expectation(audit_ir(M.lenet()), read_table(table)))
    assert [(row.right.name, codes(row)) for row in rows] == [("F5", ["dense_input"])]


# --- missing and extra layers, totals, hyper-parameter columns ------------------------------------


def test_a_row_missing_from_the_table_and_a_row_too_many(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params\nconv1,156\nfc1,48120\nfc2,10164\nsoftmax_fc,850\nextra,999\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    statuses = [(row.left.name if row.left else None, row.right.name if row.right else None, str(row.status))
                for row in diff.rows]
    assert statuses == [("conv1", "conv1", "same"), ("conv2", None, "only-left"), ("fc1", "fc1", "same"),
                        ("fc2", "fc2", "same"), ("fc3", "softmax_fc", "same"), (None, "extra", "only-right")]
    assert codes(diff.rows[1]) == ["missing_layer"] and "(5*5*6+1)*16" in diff.rows[1].findings[0].message
    assert codes(diff.rows[-1]) == ["extra_layer"]


def test_model_vs_model_missing_and_extra():
    left = M.lenet()
    right = M.model("lenet", [layer for layer in M.lenet().layers if layer.path != "conv2"]
                    + [M.dense("fc4", 10, 10)], "torch")
    diff = diff_audits(audit_ir(left), audit_ir(right))
    assert [(str(row.status), codes(row)) for row in differing(diff)] == [
        ("only-left", ["missing_layer"]), ("only-right", ["extra_layer"])]


def test_table_total_and_its_own_arithmetic(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params\nconv1,156\nconv2,2416\nfc1,48120\nfc2,10164\nfc3,850\nTOTAL,60000\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    assert all(row.status == RowStatus.SAME for row in diff.rows)
    assert [f.code for f in diff.findings] == ["total", "table_total"] and diff.differs


def test_stated_hyper_parameters_that_do_not_change_the_count(tmp_path):
    path = write(tmp_path, "t.csv", "layer,params,kernel_size,stride,padding,output_shape,kind\n"
                 "conv1,156,5,2,same,6x28x28,conv\nconv2,2416,5x5,1,valid,,dense\n"
                 "fc1,48120,,,,,\nfc2,10164,,,,,\nfc3,850,,,,,\n")
    lenet = M.lenet()
    lenet.layers[0].output_shapes = [(1, 6, 28, 28)]
    diff = diff_expectation(audit_ir(lenet), read_table(path))
    assert codes(diff.rows[0]) == ["stride", "padding"]
    assert codes(diff.rows[1]) == ["kind"]
    assert "your table says stride 2x2 but the layer's is 1x1" in diff.rows[0].findings[0].message


def test_a_table_that_agrees_does_not_differ(tmp_path):
    path = write(tmp_path, "t.yaml", "- {layer: C1, params: 156, kernel_size: 5, out_channels: 6}\n"
                 "- {layer: C3, params: 2416}\n- {layer: F5, params: 48120}\n- {layer: F6, params: 10164}\n"
                 "- {layer: OUT, params: 850}\n- {layer: TOTAL, params: 61706}\n")
    diff = diff_expectation(audit_ir(M.lenet()), read_table(path))
    assert not diff.differs and not diff.all_findings


# --- conventions on hand-built IRs ----------------------------------------------------------------


def keras_and_torch_ports():
    def layers(stats, lstm_bias, gru2_bias):
        return [M.conv("conv", 3, 16, 3, bias=False), M.bn("bn", 16, stats=stats),
                M.rnn("lstm", "lstm", 16, 32, bias_vectors=lstm_bias), M.rnn("gru", "gru", 32, 32, bias_vectors=2),
                M.rnn("gru2", "gru", 32, 8, bias_vectors=gru2_bias), M.dense("fc", 8, 4)]

    return M.model("port", layers("params", 1, 1), "keras"), M.model("port", layers("buffers", 2, 2), "torch")


def test_keras_vs_pytorch_port_conventions_and_no_false_alarm():
    keras_ir, torch_ir = keras_and_torch_ports()
    diff = diff_audits(audit_ir(keras_ir), audit_ir(torch_ir))
    assert [(row.left.name, codes(row)) for row in differing(diff)] == [
        ("bn", ["bn_convention"]), ("lstm", ["rnn_bias_convention"]), ("gru2", ["rnn_bias_convention"])]
    assert [row.left.name for row in diff.rows if row.status == RowStatus.SAME] == ["conv", "gru", "fc"]
    assert "keras" in diff.rows[1].findings[0].message and "torch" in diff.rows[1].findings[0].message


def conv_bn_net():
    return M.model("net", [M.conv("conv1", 3, 16, 3, bias=False), M.bn("bn1", 16, stats="buffers"),
                           M.conv("conv2", 16, 32, 3, bias=False), M.bn("bn2", 32, stats="buffers"),
                           M.dense("fc", 32, 10)], "torch")


def test_bn_folded_into_the_conv_by_an_onnx_exporter():
    onnx_ir = M.model("net.onnx", [M.conv("/conv1/Conv", 3, 16, 3), M.conv("/conv2/Conv", 16, 32, 3),
                                   M.dense("/fc/Gemm", 32, 10)], "onnx")
    diff = diff_audits(audit_ir(conv_bn_net()), audit_ir(onnx_ir))
    assert [(row.left.name, str(row.status), codes(row)) for row in differing(diff)] == [
        ("conv1", "differs", ["bn_folded"]), ("bn1", "only-left", ["bn_folded"]),
        ("conv2", "differs", ["bn_folded"]), ("bn2", "only-left", ["bn_folded"])]
    assert "gained a bias of 16" in diff.rows[0].findings[0].message


def test_a_port_without_batchnorm_is_not_called_folded():
    port = M.model("net", [M.conv("c1", 3, 16, 3), M.conv("c2", 16, 32, 3), M.dense("fc", 32, 10)], "keras")
    diff = diff_audits(audit_ir(conv_bn_net()), audit_ir(port))
    assert {code for row in diff.rows for code in codes(row)} == {"bias", "missing_layer"}


def tied_lm(framework, duplicate):
    V, D = 100, 8
    emb = Layer("wte", "embedding", "test:Embedding", {"num_embeddings": V, "embedding_dim": D}, [], [],
                [ParamTensor("weight", (V, D))])
    head_weight = ParamTensor("weight", (V, D), shared_with=None if duplicate else "wte")
    head = Layer("lm_head", "dense", "test:Linear", {"in_features": D, "out_features": V, "use_bias": False},
                 [], [], [head_weight])
    return M.model("lm", [emb, M.dense("mlp", D, D), head], framework)


def test_tied_weights_counted_once_vs_a_duplicated_copy():
    diff = diff_audits(audit_ir(tied_lm("torch", False)), audit_ir(tied_lm("onnx", True)))
    assert [(row.left.name, codes(row)) for row in differing(diff)] == [("lm_head", ["tied_weights"])]
    assert "wte" in diff.rows[-1].findings[0].message


def test_tied_copy_as_a_separate_initializer_layer():
    copy = Layer("transpose_copy", "tensor_op", "onnx:Transpose", {}, [], [], [ParamTensor("t", (8, 100))])
    onnx_ir = M.model("lm", [*tied_lm("onnx", True).layers[:2], copy], "onnx")
    diff = diff_audits(audit_ir(tied_lm("torch", False)), audit_ir(onnx_ir))
    assert [codes(row) for row in differing(diff)] == [["tied_weights"]]


def test_to_dict_carries_the_schema_rows_and_totals():
    data = diff_to_dict(diff_audits(audit_ir(M.alexnet()), audit_ir(M.alexnet(two_tower=True))))
    assert data["schema"] == SCHEMA == "nn-auditor/diff@1"
    assert data["differs"] is True and data["left"]["framework"] == "torch"
    row = data["rows"][1]
    assert {k: row[k] for k in ("left", "right", "left_params", "right_params", "delta", "status")} == {
        "left": "conv2", "right": "conv2", "left_params": 614_656, "right_params": 307_456, "delta": -307_200,
        "status": "differs"}
    assert row["findings"][0]["code"] == "groups" and row["findings"][0]["message"]
    assert data["totals"]["delta"] == data["totals"]["right"] - data["totals"]["left"]
    assert data["totals"]["rows"] == {"same": 5, "differs": 3, "only-left": 0, "only-right": 0}


# --- branched models listed in different topological orders --------------------------------------


def one_sided(diff):
    return [row for row in diff.rows if row.status in (RowStatus.ONLY_LEFT, RowStatus.ONLY_RIGHT)]


def names(row):
    return (row.left.name, row.right.name)


def bottleneck(stats, shortcut_at, cin=256, mid=128, cout=512, prefix=""):
    """A ResNet bottleneck with a projection shortcut; the shortcut conv+BN pair sits at `shortcut_at`."""
    main = [M.conv(f"{prefix}conv1", cin, mid, 1), M.bn(f"{prefix}bn1", mid, stats=stats),
            M.conv(f"{prefix}conv2", mid, mid, 3), M.bn(f"{prefix}bn2", mid, stats=stats),
            M.conv(f"{prefix}conv3", mid, cout, 1), M.bn(f"{prefix}bn3", cout, stats=stats)]
    shortcut = [M.conv(f"{prefix}sc_conv", cin, cout, 1), M.bn(f"{prefix}sc_bn", cout, stats=stats)]
    return main[:shortcut_at] + shortcut + main[shortcut_at:]


def keras_depth_order(prefix=""):
    """Keras's depth order: the shortcut conv beside conv3, its BN beside bn3."""
    layers = bottleneck("params", 6, prefix=prefix)
    conv3, bn3, sc_conv, sc_bn = layers[4:]
    return layers[:4] + [sc_conv, conv3, sc_bn, bn3]


@pytest.mark.parametrize("keras_layers", [keras_depth_order(), bottleneck("params", 6), bottleneck("params", 0)],
                         ids=["keras-depth-order", "shortcut-last", "shortcut-first"])
def test_a_residual_block_in_another_valid_order_pairs_every_row(keras_layers):
    keras_ir = M.model("block", keras_layers, "keras")
    torch_ir = M.model("block", bottleneck("buffers", 0), "torch")
    diff = diff_audits(audit_ir(keras_ir), audit_ir(torch_ir))
    assert not one_sided(diff) and len(diff.rows) == 8
    assert all(row.left.name == row.right.name for row in diff.rows)
    assert {code for row in diff.rows for code in codes(row)} == {"bn_convention"}
    assert [row.left.name for row in differing(diff)] == [e.path for e in keras_layers if e.kind == "batch_norm"]
    assert diff.right_total - diff.left_total == -2 * (128 + 128 + 512 + 512)
    moved = [row.left.name for row in diff.rows if row.moved]
    assert moved == ([] if keras_layers[0].path == "sc_conv" else ["sc_conv", "sc_bn"])


def test_a_moved_pair_is_marked_in_json_csv_table_and_notes():
    diff = diff_audits(audit_ir(M.model("b", keras_depth_order(), "keras")),
                       audit_ir(M.model("b", bottleneck("buffers", 0), "torch")))
    data = diff_to_dict(diff)
    assert [(row["left"], row["status"]) for row in data["rows"] if row["moved"]] == [
        ("sc_conv", "same"), ("sc_bn", "differs")]
    assert all(row["moved"] is False for row in data["rows"] if row["left"] not in ("sc_conv", "sc_bn"))
    assert data["totals"]["rows"] == {"same": 4, "differs": 4, "only-left": 0, "only-right": 0}
    assert any("2 rows marked moved" in note for note in data["notes"])
    table = render_diff(diff, "table")
    assert "same, moved" in table and "differs, moved" in table
    header, *lines = render_diff(diff, "csv").splitlines()
    assert header.endswith(",moved") and sum(line.endswith(",yes") for line in lines) == 2


def test_identical_branches_pair_by_position():
    """A stride-1 block: shortcut and conv3 are both 64->256 1x1 convs, indistinguishable by kind and count."""
    keras_ir = M.model("b", keras_depth_order_for(bottleneck("params", 6, cin=64, mid=64, cout=256)), "keras")
    torch_ir = M.model("b", bottleneck("buffers", 0, cin=64, mid=64, cout=256), "torch")
    diff = diff_audits(audit_ir(keras_ir), audit_ir(torch_ir))
    assert not one_sided(diff) and all(row.left.params == row.right.params or codes(row) == ["bn_convention"]
                                       for row in diff.rows)


def keras_depth_order_for(layers):
    conv3, bn3, sc_conv, sc_bn = layers[4:]
    return layers[:4] + [sc_conv, conv3, sc_bn, bn3]


def test_raw_counts_equal_only_across_conventions_do_not_pair():
    """Keras BN(256) has 4*256 = 1,024 like PyTorch BN(512)'s 2*512: the convention-free counts decide."""
    keras_ir = M.model("n", [M.conv("c", 3, 256, 3), M.bn("bn", 256, stats="params")], "keras")
    torch_ir = M.model("n", [M.conv("c", 3, 256, 3), M.bn("bn_wide", 512, stats="buffers"),
                             M.bn("bn", 256, stats="buffers")], "torch")
    diff = diff_audits(audit_ir(keras_ir), audit_ir(torch_ir))
    assert [(str(row.status), codes(row)) for row in diff.rows] == [
        ("same", []), ("only-right", ["extra_layer"]), ("differs", ["bn_convention"])]
    assert names(diff.rows[2]) == ("bn", "bn")


def test_a_moved_layer_with_one_change_is_paired_and_explained():
    """Keras convs with biases vs bias-free PyTorch convs: the moved shortcut conv differs by its bias."""
    keras_ir = M.model("b", keras_depth_order(), "keras")
    torch_layers = bottleneck("buffers", 0)
    torch_layers = [M.conv(c.path, c.attrs["in_channels"], c.attrs["out_channels"], c.attrs["kernel_size"][0],
                           bias=False) if c.kind == "conv" else c for c in torch_layers]
    diff = diff_audits(audit_ir(keras_ir), audit_ir(M.model("b", torch_layers, "torch")))
    assert not one_sided(diff) and all(row.left.name == row.right.name for row in diff.rows)
    by_name = {row.left.name: (codes(row), row.moved) for row in diff.rows}
    assert by_name["sc_conv"] == (["bias"], True) and by_name["sc_bn"] == (["bn_convention"], True)
    assert {tuple(c) for c, _ in by_name.values()} == {("bias",), ("bn_convention",)}


def test_one_sided_layers_pair_only_when_one_attribute_explains_the_change():
    left = M.model("n", [M.conv("a", 3, 8, 3), M.conv("x", 8, 16, 3), M.dense("fc", 16, 4)], "keras")

    def diff_with(last):
        return diff_audits(audit_ir(left), audit_ir(M.model("n", [M.conv("a", 3, 8, 3), M.dense("fc", 16, 4), last],
                                                               "torch")))

    bias_dropped = diff_with(M.conv("x", 8, 16, 3, bias=False))
    assert not one_sided(bias_dropped)
    assert [(row.left.name, codes(row), row.moved) for row in differing(bias_dropped)] == [("x", ["bias"], True)]
    unrelated = diff_with(M.conv("y", 3, 32, 5))
    assert sorted(str(row.status) for row in one_sided(unrelated)) == ["only-left", "only-right"]


def inception(order, prefix="mixed"):
    """GoogLeNet's inception (3a): four parallel branches, listed in `order` (indices of the six convs)."""
    convs = [M.conv(f"{prefix}.b1", 192, 64, 1), M.conv(f"{prefix}.b2_reduce", 192, 96, 1),
             M.conv(f"{prefix}.b2", 96, 128, 3), M.conv(f"{prefix}.b3_reduce", 192, 16, 1),
             M.conv(f"{prefix}.b3", 16, 32, 5), M.conv(f"{prefix}.b4_proj", 192, 32, 1)]
    return [convs[k] for k in order]


def test_inception_branches_in_another_order_are_all_paired():
    keras_order = [1, 3, 0, 2, 4, 5]  # Keras: both reduce convs (depth 1) before the 1x1 branch
    left = M.model("g", [M.conv("stem", 3, 192, 3), *inception(keras_order), M.dense("fc", 256, 10)], "keras")
    right = M.model("g", [M.conv("stem", 3, 192, 3), *inception(range(6)), M.dense("fc", 256, 10)], "torch")
    diff = diff_audits(audit_ir(left), audit_ir(right))
    assert not diff.differs and len(diff.rows) == 8
    assert all(row.left.name == row.right.name for row in diff.rows)
    assert sum(row.moved for row in diff.rows) == 2


def test_a_table_in_another_branch_order_and_in_keras_convention(tmp_path):
    layers = [M.conv("stem", 3, 192, 3), M.bn("bn", 192, stats="params"), *inception(range(6))]
    order = [0, 1, 4, 6, 2, 3, 5, 7]
    rows = [(layers[k].path, audit_ir(M.model("m", [layers[k]])).checks[0].reported) for k in order]
    path = write(tmp_path, "t.csv", "layer,params\n" + "".join(f"{n},{c}\n" for n, c in rows))
    diff = diff_expectation(audit_ir(M.model("m", layers, "keras")), read_table(path))
    assert not diff.differs and all(row.left.name == row.right.name for row in diff.rows)
    assert diff.rows[1].right_params == 4 * 192


@settings(max_examples=60, deadline=None)
@given(ENTRIES, st.data())
def test_a_shuffled_stretch_of_distinct_counts_pairs_every_row(entries, data):
    left = [Entry(f"l{i}", kind, n, norm=n) for i, (kind, n) in enumerate(entries)]
    start = data.draw(st.integers(0, len(left) - 2))
    stop = data.draw(st.integers(start + 2, min(len(left), start + 8)))
    stretch = data.draw(st.permutations(range(start, stop)))
    order = [*range(start), *stretch, *range(stop, len(left))]
    right = [Entry(f"r{k}", left[k].kind, left[k].params, norm=left[k].params) for k in order]
    rows = match(left, right)
    assert all(m.left is not None and m.right is not None and order[m.right] == m.left for m in rows)
    assert [m.left for m in rows] == list(range(len(left)))
    assert all(start <= m.left < stop for m in rows if m.moved)
    assert sum(m.moved for m in rows) < stop - start


# --- end to end through the framework adapters ----------------------------------------------------


def adapter(module: str, function: str):
    """The adapter function, or skip naming it when it is not there (yet)."""
    try:
        found = getattr(importlib.import_module(module), function, None)
    except ImportError as err:
        pytest.skip(f"{module}.{function} is not available ({err})")
    if found is None:
        pytest.skip(f"{module}.{function} does not exist yet")
    return found


def keras_unet():
    import keras
    from keras import layers as L

    keras.utils.clear_session()
    inputs = keras.Input((256, 256, 1))

    def conv(n, k, x):
        return L.Conv2D(n, k, activation="relu", padding="same")(x)

    conv1 = conv(64, 3, conv(64, 3, inputs))
    conv2 = conv(128, 3, conv(128, 3, L.MaxPooling2D(2)(conv1)))
    conv3 = conv(256, 3, conv(256, 3, L.MaxPooling2D(2)(conv2)))
    drop4 = L.Dropout(0.5)(conv(512, 3, conv(512, 3, L.MaxPooling2D(2)(conv3))))
    x = L.Dropout(0.5)(conv(1024, 3, conv(1024, 3, L.MaxPooling2D(2)(drop4))))
    for skip, n in ((drop4, 512), (conv3, 256), (conv2, 128), (conv1, 64)):
        up = conv(n, 2, L.UpSampling2D(size=(2, 2))(x))
        x = conv(n, 3, conv(n, 3, L.concatenate([skip, up], axis=3)))
    outputs = L.Conv2D(1, 1, activation="sigmoid")(conv(2, 3, x))
    return keras.Model(inputs, outputs)


def test_seed_001_end_to_end_with_keras():
    from_model = adapter("adapters.keras", "from_model")
    model = keras_unet()
    assert model.count_params() == M.UNET_TOTAL
    diff = diff_expectation(audit_ir(from_model(model)), read_table(SEED_001))
    check_seed_001(diff)


def test_keras_model_vs_its_pytorch_port_end_to_end():
    from_model = adapter("adapters.keras", "from_model")
    from_module = adapter("adapters.torch", "from_module")
    import keras
    import torch
    from keras import layers as L

    keras.utils.clear_session()
    inputs = keras.Input((10, 8))
    x = L.BatchNormalization()(L.Conv1D(16, 3, padding="same", use_bias=False)(inputs))
    x = L.GRU(12, reset_after=False)(L.GRU(24, return_sequences=True)(L.LSTM(32, return_sequences=True)(x)))
    keras_model = keras.Model(inputs, L.Dense(4)(x))

    class Port(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(8, 16, 3, padding=1, bias=False)
            self.bn = torch.nn.BatchNorm1d(16)
            self.lstm = torch.nn.LSTM(16, 32, batch_first=True)
            self.gru = torch.nn.GRU(32, 24, batch_first=True)
            self.gru2 = torch.nn.GRU(24, 12, batch_first=True)
            self.fc = torch.nn.Linear(12, 4)

        def forward(self, x):
            x = self.bn(self.conv(x.transpose(1, 2))).transpose(1, 2)
            x = self.gru2(self.gru(self.lstm(x)[0])[0])[0]
            return self.fc(x[:, -1])

    diff = diff_audits(audit_ir(from_model(keras_model)), audit_ir(from_module(Port(), input_shape=(1, 10, 8))))
    assert [codes(row) for row in differing(diff)] == [["bn_convention"], ["rnn_bias_convention"],
                                                       ["rnn_bias_convention"]]
    assert sum(row.status == RowStatus.SAME for row in diff.rows) == 3  # conv, GRU with reset_after, dense
    rec = diff.reconciliation
    assert {c.code for c in rec.causes} == {"bn_convention", "rnn_bias_convention"}
    assert rec.explained == rec.delta == diff.right_total - diff.left_total and rec.unexplained == 0
    assert diff.equivalent


def randomized(module):
    import torch

    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.5, 0.5)
    return module.eval()


def test_pytorch_vs_its_onnx_export_with_batchnorm_folded(tmp_path):
    from_module = adapter("adapters.torch", "from_module")
    read_onnx = adapter("adapters.onnx", "read_onnx")
    import torch

    torch.manual_seed(0)
    net = randomized(torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10)))
    x = torch.randn(1, 3, 8, 8)
    path = str(tmp_path / "net.onnx")
    torch.onnx.export(net, (x,), path, dynamo=True)
    diff = diff_audits(audit_ir(from_module(net, example_inputs=(x,))), audit_ir(read_onnx(path)))
    assert [codes(row) for row in differing(diff)] == [["bn_folded"]] * 4
    assert diff.right_total - diff.left_total == -(8 + 16)


def test_tied_embedding_duplicated_by_the_legacy_exporter(tmp_path):
    from_module = adapter("adapters.torch", "from_module")
    read_onnx = adapter("adapters.onnx", "read_onnx")
    import torch

    class TinyLM(torch.nn.Module):
        """GPT-2's tying in miniature (transformers 5's GPT-2 does not export with the legacy exporter)."""

        def __init__(self, vocab=96, width=32):
            super().__init__()
            self.wte = torch.nn.Embedding(vocab, width)
            self.mlp = torch.nn.Linear(width, width)
            self.lm_head = torch.nn.Linear(width, vocab, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, ids):
            return self.lm_head(torch.relu(self.mlp(self.wte(ids))))

    torch.manual_seed(0)
    model = randomized(TinyLM())
    ids = torch.randint(0, 96, (1, 8))
    path = str(tmp_path / "lm.onnx")
    torch.onnx.export(model, (ids,), path, dynamo=False)
    diff = diff_audits(audit_ir(from_module(model, example_inputs=(ids,))), audit_ir(read_onnx(path)))
    assert [codes(row) for row in differing(diff)] == [["tied_weights"]]
    assert diff.right_total - diff.left_total == 96 * 32


# --- reference models: Keras depth order vs PyTorch call order (built without weights) -------------


def reference_pair(name):
    """`reference:NAME@keras` and `@torch` audited; skipped when a framework is missing."""
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    import auditor

    return auditor.audit(f"reference:{name}@keras"), auditor.audit(f"reference:{name}@torch")


def test_resnet50_keras_vs_torch_pairs_every_row_and_differs_only_by_bn_statistics():
    keras_audit, torch_audit = reference_pair("resnet50-keras")
    diff = diff_audits(keras_audit, torch_audit)
    assert not one_sided(diff)
    assert all(codes(row) == ["bn_convention"] and row.left.kind == "batch_norm" for row in differing(diff))
    assert [row.right.name for row in diff.rows if row.moved] == [
        f"blocks.{b}.shortcut.{k}" for b in (0, 3, 7, 13) for k in (0, 1)]
    statistics = sum(2 * layer.attrs["num_features"] for layer in keras_audit.model.layers
                     if layer.kind == "batch_norm")
    assert diff.left_total - diff.right_total == statistics == 53_120


def test_googlenet_keras_vs_torch_pairs_the_inception_branches():
    diff = diff_audits(*reference_pair("googlenet"))
    assert not diff.differs and not one_sided(diff) and len(diff.rows) == 58
    moved = [row for row in diff.rows if row.moved]
    assert moved and all(".branch" in row.right.name and row.left.params == row.right.params for row in moved)
