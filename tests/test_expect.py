"""Expectation tables: the seed 001 hand table as written, the three formats, and bad tables."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.expect import canonical_kind, parse_count, parse_dims, read_table

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SEED_001 = os.path.join(FIXTURES, "unet_seed001_hand.csv")


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_seed_001_table_reads_as_the_user_wrote_it():
    table = read_table(SEED_001)
    weighted = table.weighted_rows
    assert [r.layer for r in weighted] == [f"conv2d_{i}" for i in range(1, 25)]
    assert weighted[10].params == 4_719_104 and weighted[10].hyper == {"out_channels": 512, "kernel_size": (3,)}
    assert weighted[-1].hyper["kernel_size"] == (1,)
    assert table.rows_sum == 34_513_285
    assert table.total is None
    assert table.unused_columns == ["out_size", "should_be"]
    assert len(table.rows) - len(weighted) == 15  # input, pools, dropouts, upsamplings, concats


def test_csv_with_total_hyper_columns_and_written_numbers(tmp_path):
    path = write(tmp_path, "t.csv", 'layer,kind,params,kernel_size,stride,padding,use_bias,output_shape\n'
                 'conv1,Conv2D,"9,248",3x3,2,same,yes,32x24x24\n'
                 "fc,Linear,205'056,,,,no,256\n"
                 "pool,MaxPool,0,2,2,valid,,\n"
                 "TOTAL,,214304,,,,,\n")
    table = read_table(path)
    conv, fc, pool = table.rows
    assert conv.kind == "conv" and conv.params == 9248
    assert conv.hyper == {"kernel_size": (3, 3), "stride": (2,), "padding": "same", "use_bias": True,
                          "output_shape": (32, 24, 24)}
    assert fc.kind == "dense" and fc.params == 205_056 and fc.hyper["use_bias"] is False
    assert not pool.weighted
    assert table.total == 214_304


def test_yaml_and_json_give_the_same_rows(tmp_path):
    rows = [{"name": "c1", "params": 832, "kernel": 5, "filters": 32}, {"layer": "TOTAL", "params": 832}]
    from_json = read_table(write(tmp_path, "t.json", json.dumps(rows)))
    import yaml

    from_yaml = read_table(write(tmp_path, "t.yaml", yaml.safe_dump({"layers": rows[:1], "total": 832})))
    for table in (from_json, from_yaml):
        assert table.total == 832
        assert [(r.layer, r.params, r.hyper) for r in table.rows] == [("c1", 832, {"kernel_size": (5,), "out_channels": 32})]


@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("t.csv", "layer,count\nc1,5\n", "needs the columns layer and params"),
        ("t.csv", "layer,params\nc1,0.59M\n", "'0.59M' is not a whole number"),
        ("t.csv", "layer,params\nc1,0\n", "no row gives a parameter count"),
        ("t.csv", "", "empty"),
        ("t.csv", "layer,params\nc1,5,7\n", "3 cells but the header has 2"),
        ("t.csv", "layer,params,kernel_size\nc1,5,three\n", "not a size"),
        ("t.csv", "layer,params\nc1,5\nTOTAL,5\nTOTAL,6\n", "a second TOTAL"),
        ("t.csv", "layer,params\n,5\n", "no layer name"),
        ("t.json", "{not json", "not valid JSON"),
        ("t.json", '{"layers": 5}', "expected a list of rows"),
        ("t.yaml", "layers: [a: 1, b", "not valid YAML"),
        ("t.xlsx", "whatever", "unknown table format .xlsx"),
    ],
)
def test_bad_tables_are_one_line_input_errors(tmp_path, name, text, needle):
    with pytest.raises(InputError) as err:
        read_table(write(tmp_path, name, text))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_table_file():
    with pytest.raises(InputError, match="no such table"):
        read_table("/nonexistent/table.csv")


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([",", "'", "_", " ", ""]))
def test_counts_read_back_whatever_the_thousands_separator(n, sep):
    assert parse_count(f"{n:,}".replace(",", sep), "here") == n


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=3), st.sampled_from(["x", "×", "*", ", "]))
def test_sizes_read_back(dims, sep):
    assert parse_dims(sep.join(map(str, dims)), "here") == tuple(dims)


def test_kind_spellings():
    assert [canonical_kind(k) for k in ("Conv2D", "conv3", "FC", "Linear", "BatchNorm2d", "LSTM", "fc6")] == [
        "conv", "conv", "dense", "dense", "batch_norm", "rnn", "dense"]
    assert canonical_kind("MyBlock") == "myblock"
