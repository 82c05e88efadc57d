"""`auditor.records.record` behaves as `dataclasses.dataclass` with the same arguments: each record class is
checked against a twin the standard library generates, on values hypothesis draws."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.records import record


def _pair(frozen: bool, eq: bool, compiled_init: bool) -> tuple[type, type]:
    """The same fields, once as a record and once as a stdlib dataclass."""

    def body() -> dict:
        return {"__annotations__": {"name": "str", "size": "int", "tags": "list[str]", "note": "str"},
                "size": 0, "tags": field(default_factory=list), "note": field(default="", compare=False),
                "__module__": __name__, "__doc__": "sample"}

    ours = record(frozen=frozen, eq=eq, compiled_init=compiled_init)(type("Sample", (), body()))
    theirs = dataclass(frozen=frozen, eq=eq)(type("Sample", (), body()))
    return ours, theirs


def _hash_of(value: object) -> object:
    try:
        return hash(value)
    except TypeError:
        return "TypeError"


FLAGS = [(frozen, eq, compiled) for frozen in (False, True) for eq in (True, False) for compiled in (True, False)]
names = st.text(max_size=5)
sizes = st.integers(-3, 3)
tags = st.lists(st.sampled_from(["a", "b"]), max_size=2)


@pytest.mark.parametrize(("frozen", "eq", "compiled"), FLAGS)
@settings(max_examples=25, deadline=None)
@given(name=names, size=sizes, tag_list=tags, note=names, other_size=sizes)
def test_record_behaves_as_the_dataclass_it_replaces(frozen, eq, compiled, name, size, tag_list, note, other_size):
    ours, theirs = _pair(frozen, eq, compiled)
    a, b = ours(name, size, tag_list, note=note), theirs(name, size, tag_list, note=note)
    assert repr(a) == repr(b)
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    same, other = ours(name, size, list(tag_list), note="x"), ours(name, other_size, tag_list)
    twin_same, twin_other = theirs(name, size, list(tag_list), note="x"), theirs(name, other_size, tag_list)
    assert (a == same) == (b == twin_same)  # `note` is not compared
    assert (a == other) == (b == twin_other)
    assert (a == b) is False  # another class: NotImplemented both ways
    hashable = frozen or not eq
    assert (getattr(ours, "__hash__", None) is not None) == hashable
    assert (theirs.__hash__ is not None) == hashable
    if frozen and eq:  # hashed by the compared fields, a list among them included (TypeError both ways)
        assert _hash_of(a) == _hash_of(same) and _hash_of(b) == _hash_of(twin_same)
        assert (_hash_of(a) == "TypeError") == (_hash_of(b) == "TypeError")
    if eq:
        assert dataclasses.replace(a, size=other_size) == other
    assert ours("n").size == theirs("n").size == 0 and ours("n").tags == [] and ours("n").tags is not ours("n").tags


@pytest.mark.parametrize(("frozen", "eq", "compiled"), FLAGS)
def test_record_refuses_what_the_dataclass_refuses(frozen, eq, compiled):
    ours, theirs = _pair(frozen, eq, compiled)
    for cls in (ours, theirs):
        with pytest.raises(TypeError):
            cls()  # `name` has no default
        with pytest.raises(TypeError):
            cls("n", 1, [], "note", "one too many")
        with pytest.raises(TypeError):
            cls("n", colour="red")
        value = cls("n")
        if frozen:
            with pytest.raises(dataclasses.FrozenInstanceError):
                value.size = 2
            with pytest.raises(dataclasses.FrozenInstanceError):
                del value.size
        else:
            value.size = 2
            assert value.size == 2
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))


def test_a_record_refers_to_itself_without_recursing_forever():
    ours, theirs = _pair(False, True, True)
    a, b = ours("loop"), theirs("loop")
    a.tags.append(a)
    b.tags.append(b)
    assert repr(a) == repr(b) == "Sample(name='loop', size=0, tags=[...], note='')"


def test_the_audit_records_keep_their_value_semantics():
    from auditor.count import Totals
    from auditor.ir import Layer, ModelIR, ParamTensor
    from auditor.options import AuditOptions
    from auditor.rules.base import ParamCount, Term

    weight = ParamTensor("w", (2, 3))
    assert weight == ParamTensor("w", (2, 3)) and hash(weight) == hash(ParamTensor("w", (2, 3)))
    assert {weight, ParamTensor("w", (2, 3))} == {weight}
    assert Layer("a", "dense", "x", params=[weight]) == Layer("a", "dense", "x", params=[weight])
    assert ModelIR("m", "onnx", "f.onnx") == ModelIR("m", "onnx", "f.onnx")
    assert Totals(reported=3) == Totals(3) != Totals()
    assert AuditOptions(debug=True) == AuditOptions(debug=True) and hash(AuditOptions()) == hash(AuditOptions())
    assert ParamCount.of(Term("2*3", 6)) == ParamCount.of(Term("2*3", 6))
    assert pickle.loads(pickle.dumps(AuditOptions(name="x"))) == AuditOptions(name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        AuditOptions().debug = True  # type: ignore[misc]
