"""Constants read through Gather or Slice at constant indices: the file's tensor is counted once, whole,
whatever the reads repeat or leave out; reads that partition it exactly keep their parts."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper
from support.onnx_graphs import model, save, value, weight

import auditor
from adapters.onnx_reads import partitioned, read_index
from auditor import Status

onnx = pytest.importorskip("onnx")


def _ints(name: str, values: list[int]):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _audit(nodes, inputs, initializers, tmp_path):
    return auditor.audit(save(model(nodes, inputs, [value("y", None)], initializers), str(tmp_path)))


def _stored(initializers) -> int:
    return sum(int(np.prod(t.dims)) for t in initializers if t.data_type == 1)


def test_a_gather_at_repeated_indices_counts_the_table_once(tmp_path):
    """Token type 0 at each of 4 positions: a 2x4 table read as 1x4x4, counted as the 8 elements stored."""
    nodes = [
        helper.make_node("Gather", ["token_type.weight", "types"], ["t"], name="token_type"),
        helper.make_node("Add", ["x", "t"], ["y"], name="add"),
    ]
    inits = [weight("token_type.weight", (2, 4)), _ints("types", [[0, 0, 1, 0]])]
    result = _audit(nodes, [value("x", [1, 4, 4])], inits, tmp_path)
    rows = {c.path: c for c in result.checks}
    table = rows["token_type"]
    assert (table.kind, table.reported, table.analytic, table.status) == ("embedding", 8, 8, Status.OK)
    assert rows["add"].reported == 0, "the sum of two activations, not a bias"
    assert result.totals.reported == _stored(inits) and result.totals.unattributed == 0
    assert any("token_type.weight reads 2 of 2 rows" in n for n in result.model.notes)


def test_two_lookups_of_one_table_count_it_once_and_a_partial_read_counts_it_whole(tmp_path):
    """Positions 0..2 of a 6-row table, read twice: 18 stored elements, counted once; the second read is tied."""
    nodes = [
        helper.make_node("Gather", ["pos.weight", "positions"], ["p1"], name="first"),
        helper.make_node("Gather", ["pos.weight", "positions"], ["p2"], name="second"),
        helper.make_node("Add", ["x", "p1"], ["h"]),
        helper.make_node("Add", ["h", "p2"], ["y"]),
    ]
    inits = [weight("pos.weight", (6, 3)), _ints("positions", [0, 1, 2])]
    result = _audit(nodes, [value("x", [3, 3])], inits, tmp_path)
    rows = {c.path: c for c in result.checks}
    assert rows["pos"].reported == 18 and rows["pos"].status is Status.OK
    (tied,) = rows["pos#1"].layer.params
    assert tied.shared_with == "pos" and rows["pos#1"].reported == 0
    assert result.totals.reported == 18 and result.totals.shared == 18


def test_slices_that_partition_a_weight_keep_their_parts_and_overlapping_ones_count_it_whole(tmp_path):
    """A fused (4, 6) weight cut by three Slices into q, k, v: each projection owns its 4x2 part.  Two
    overlapping Slices of another (4, 6) weight: the weight counted whole once, each read tied to it."""
    def cut(source, start, end, out):
        return helper.make_node("Slice", [source, f"s{start}", f"e{end}", "one"], [out])

    nodes = [cut("qkv", 0, 2, "wq"), cut("qkv", 2, 4, "wk"), cut("qkv", 4, 6, "wv"),
             cut("w", 0, 4, "wa"), cut("w", 2, 6, "wb")]
    nodes += [helper.make_node("MatMul", ["x", w], [o], name=o) for w, o in
              (("wq", "q"), ("wk", "k"), ("wv", "v"), ("wa", "a"), ("wb", "b"))]
    nodes += [helper.make_node("Concat", list("qkvab"), ["y"], axis=1)]
    inits = [weight("qkv", (4, 6)), weight("w", (4, 6)), _ints("one", [1])]
    inits += [_ints(f"s{i}", [i]) for i in (0, 2, 4)] + [_ints(f"e{i}", [i]) for i in (2, 4, 6)]
    result = _audit(nodes, [value("x", [2, 4])], inits, tmp_path)
    rows = {c.path: c for c in result.checks}
    assert [(rows[p].reported, rows[p].status) for p in "qkv"] == [(8, Status.OK)] * 3
    assert [(rows[p].reported, rows[p].status, rows[p].analytic) for p in "ab"] == [(0, Status.OK, 16)] * 2
    assert rows["w"].reported == 24
    assert result.totals.reported == _stored(inits) == 48 and result.totals.unattributed == 0


@functools.cache
def _runtime_slice():
    """onnxruntime's Slice (the spec's clamping: onnx's reference evaluator clamps negative steps as numpy does)."""
    ort = pytest.importorskip("onnxruntime")
    node = helper.make_node("Slice", ["data", "starts", "ends", "axes", "steps"], ["y"])
    names = ("data", "starts", "ends", "axes", "steps")
    graph = helper.make_graph([node], "slice", [value(n, None, 7) for n in names], [value("y", None, 7)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.lists(st.tuples(st.integers(-9, 9), st.integers(-9, 9), st.sampled_from([1, 2, -1])),
                                   min_size=1, max_size=4))
def test_partitioned_agrees_with_onnxruntime_slicing(dim, cuts):
    """Random Slices of a (dim, 2) tensor: an exact partition iff onnxruntime's Slice, run on the element
    ids, returns each id exactly once."""
    ids, times = np.arange(dim * 2, dtype=np.int64).reshape(dim, 2), np.zeros(dim * 2, dtype=int)
    for a, b, step in cuts:
        feeds = {"data": ids, **{k: np.array([v], np.int64) for k, v in
                                 (("starts", a), ("ends", b), ("axes", 0), ("steps", step))}}
        np.add.at(times, _runtime_slice().run(None, feeds)[0].reshape(-1), 1)
    reads = [read_index("Slice", [[a], [b], [0], [step]], {}, (dim, 2)) for a, b, step in cuts]
    assert partitioned((dim, 2), reads) == bool(np.all(times == 1))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-(2**31), 2**31 - 1), max_size=64), wide=st.booleans(), raw=st.booleans())
def test_small_int_tensors_read_as_numpy_helper_reads_them(values, wide, raw):
    """Shape constants (Reshape targets, Gather indices) are read without numpy; the values must be numpy's."""
    from adapters.onnx_graph import tensor_values

    dtype = np.int64 if wide else np.int32
    tensor = numpy_helper.from_array(np.array(values, dtype=dtype), "t")
    if not raw:
        tensor = helper.make_tensor("t", tensor.data_type, [len(values)], values)
    assert tensor_values(tensor) == numpy_helper.to_array(tensor).tolist()


def test_an_int_tensor_whose_bytes_do_not_fit_its_dims_has_no_values():
    from adapters.onnx_graph import tensor_values

    tensor = numpy_helper.from_array(np.arange(4, dtype=np.int64), "t")
    tensor.raw_data = tensor.raw_data[:-3]
    assert tensor_values(tensor) is None
