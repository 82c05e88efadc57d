"""Attribute decoding: each attribute type as the Python value translators read, strings as text."""

from __future__ import annotations

import pytest

from adapters.onnx_schema import decode

onnx = pytest.importorskip("onnx")
from onnx import AttributeProto, TensorProto, helper  # noqa: E402

TENSOR = helper.make_tensor("t", TensorProto.FLOAT, [2], [1.0, 2.0])
GRAPH = helper.make_graph([], "g", [], [])
TYPE = helper.make_tensor_type_proto(TensorProto.FLOAT, [1])
CASES = [  # (attribute as an exporter writes it, the Python value a translator reads)
    (helper.make_attribute("f", 0.5), 0.5),
    (helper.make_attribute("i", 3), 3),
    (helper.make_attribute("s", "SAME_UPPER"), "SAME_UPPER"),
    (helper.make_attribute("s", b"caf\xc3\xa9"), "caf\u00e9"),
    (helper.make_attribute("t", TENSOR), TENSOR),
    (helper.make_attribute("g", GRAPH), GRAPH),
    (helper.make_attribute("fs", [0.5, 1.5]), [0.5, 1.5]),
    (helper.make_attribute("is", [1, -1, 0]), [1, -1, 0]),
    (helper.make_attribute("ss", ["a", "b"]), ["a", "b"]),
    (helper.make_attribute("ts", [TENSOR]), [TENSOR]),
    (helper.make_attribute("gs", [GRAPH]), [GRAPH]),
    (helper.make_attribute("empty_ints", [], attr_type=AttributeProto.INTS), []),
    (helper.make_attribute("tp", TYPE), TYPE),
]


@pytest.mark.parametrize(("attribute", "expected"), CASES, ids=lambda case: getattr(case, "name", ""))
def test_decode_gives_python_values_with_strings_as_text(attribute, expected):
    decoded = decode(attribute)
    assert decoded == expected
    assert type(decoded) is type(expected)


def test_invalid_utf8_string_decodes_with_replacement():
    attribute = AttributeProto(name="s", type=AttributeProto.STRING, s=b"\xff")
    assert decode(attribute) == "\ufffd"


def test_undefined_type_reads_none_and_reference_attribute_is_refused_as_onnx_does():
    assert decode(AttributeProto(name="x")) is None
    reference = AttributeProto(name="x", type=AttributeProto.INT, ref_attr_name="outer")
    with pytest.raises(ValueError):
        decode(reference)


@pytest.mark.parametrize("attribute", [case[0] for case in CASES], ids=lambda a: a.name)
def test_decode_reads_the_field_onnx_helper_reads(attribute):
    """`decode` reads each type's field itself (a dispatch table); onnx's own reader is the reference."""
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif isinstance(value, list):
        value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
    assert decode(attribute) == value
