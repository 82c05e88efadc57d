"""Attribute decoding by table look-up gives what onnx.helper.get_attribute_value gives, strings as text."""

from __future__ import annotations

import pytest

from adapters.onnx_schema import decode

onnx = pytest.importorskip("onnx")
from onnx import AttributeProto, TensorProto, helper  # noqa: E402


def _expected(attribute: AttributeProto):
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
    return value


TENSOR = helper.make_tensor("t", TensorProto.FLOAT, [2], [1.0, 2.0])
GRAPH = helper.make_graph([], "g", [], [])
CASES = [
    helper.make_attribute("f", 0.5),
    helper.make_attribute("i", 3),
    helper.make_attribute("s", "SAME_UPPER"),
    helper.make_attribute("s", b"caf\xc3\xa9"),
    helper.make_attribute("t", TENSOR),
    helper.make_attribute("g", GRAPH),
    helper.make_attribute("fs", [0.5, 1.5]),
    helper.make_attribute("is", [1, -1, 0]),
    helper.make_attribute("ss", ["a", "b"]),
    helper.make_attribute("ts", [TENSOR]),
    helper.make_attribute("gs", [GRAPH]),
    helper.make_attribute("empty_ints", [], attr_type=AttributeProto.INTS),
    helper.make_attribute("tp", helper.make_tensor_type_proto(TensorProto.FLOAT, [1])),
]


@pytest.mark.parametrize("attribute", CASES, ids=lambda a: f"{a.name}:{a.type}")
def test_decode_matches_onnx_helper(attribute):
    decoded = decode(attribute)
    assert decoded == _expected(attribute)
    assert type(decoded) is type(_expected(attribute))


def test_invalid_utf8_string_decodes_with_replacement():
    attribute = AttributeProto(name="s", type=AttributeProto.STRING, s=b"\xff")
    assert decode(attribute) == "\ufffd"


def test_undefined_type_reads_none_and_reference_attribute_is_refused_as_onnx_does():
    assert decode(AttributeProto(name="x")) is None
    reference = AttributeProto(name="x", type=AttributeProto.INT, ref_attr_name="outer")
    with pytest.raises(ValueError):
        decode(reference)
