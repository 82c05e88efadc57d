"""Node attributes with the operator schema's defaults for the model's opset and domain.

Defaults are never copied by hand: they come from `onnx.defs.get_schema(op, opset, domain)` (and, for
onnxruntime's `com.microsoft` ops, from onnxruntime's own schema registry when it is installed).  A
required attribute the node does not carry makes the file malformed (InputError), as ONNX's
reference implementation and checker treat it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from auditor.errors import InputError

STANDARD_DOMAINS = ("", "ai.onnx")
ORT_DOMAIN = "com.microsoft"


class Schema(NamedTuple):
    """What a schema says about attributes: defaults (decoded) and which ones are required."""

    defaults: dict[str, Any]
    required: frozenset[str]


class Schemas:
    """Schema look-ups for one model's opset imports (one instance per read: no module-level cache)."""

    __slots__ = ("opsets", "_found", "_ort")

    def __init__(self, opsets: dict[str, int]) -> None:
        self.opsets = opsets
        self._found: dict[tuple[str, str], Schema | None] = {}
        self._ort: dict[tuple[str, str], Any] | None = None

    def version(self, domain: str) -> int:
        """The opset the model imports for `domain` ('' and 'ai.onnx' are the same domain)."""
        if domain in STANDARD_DOMAINS:
            return self.opsets.get("", self.opsets.get("ai.onnx", 0))
        return self.opsets.get(domain, 0)

    def schema(self, domain: str, op_type: str) -> Schema | None:
        """The schema of `op_type` at the model's opset, else its newest one, else None (unknown op)."""
        key = (domain or "", op_type)
        if key not in self._found:
            self._found[key] = self._lookup(*key)
        return self._found[key]

    def known(self, domain: str, op_type: str) -> bool:
        return self.schema(domain, op_type) is not None

    def attributes(self, node: Any) -> dict[str, Any]:
        """The node's attributes as Python values, every schema default filled in.

        InputError when a required attribute is missing (a malformed file).
        """
        values = {_text(a.name): decode(a) for a in node.attribute}
        schema = self.schema(_text(node.domain), _text(node.op_type))
        if schema is None:
            return values
        missing = sorted(schema.required - values.keys()) if schema.required else []
        if missing:
            raise InputError(
                f"{_text(node.op_type)} node {_text(node.name)!r} lacks its required attribute {missing[0]!r}; "
                "a malformed ONNX file"
            )
        return {**schema.defaults, **values}

    def _lookup(self, domain: str, op_type: str) -> Schema | None:
        if domain == ORT_DOMAIN:
            return self._ort_schema(op_type)
        from adapters.onnx_core import native

        defs = native().defs
        onnx_domain = "" if domain in STANDARD_DOMAINS else domain
        version = self.version(domain)
        try:
            found = defs.get_schema(op_type, version, onnx_domain) if version else defs.get_schema(op_type, onnx_domain)
        except defs.SchemaError:
            try:  # an op newer than the model's opset: the file is odd, its newest schema still describes it
                found = defs.get_schema(op_type, onnx_domain)
            except defs.SchemaError:
                return None
        return _onnx_schema(found)

    def _ort_schema(self, op_type: str) -> Schema | None:
        if self._ort is None:
            self._ort = _ort_registry()
        found = self._ort.get((ORT_DOMAIN, op_type))
        if found is None:
            return None
        return _onnx_schema(found)


def _onnx_schema(found: Any) -> Schema:
    """The defaults and required attributes of an OpSchema, onnx's or onnxruntime's (the same C++ class)."""
    defaults = {}
    for name, attribute in found.attributes.items():
        default = _default_value(attribute)
        if default is not None:
            defaults[name] = decode(default)
    required = frozenset(name for name, a in found.attributes.items() if a.required)
    return Schema(defaults, required)


def _default_value(attribute: Any) -> Any:
    """An OpSchema attribute's default as an AttributeProto, else None.  The C++ object holds it serialized
    (`_default_value`); `onnx.defs` parses it the same way into its `default_value` property."""
    raw = getattr(attribute, "_default_value", b"")
    if not raw:
        return None
    from adapters.onnx_core import proto

    default = proto().AttributeProto()
    default.ParseFromString(raw)
    return default if default.type else None


def _ort_registry() -> dict[tuple[str, str], Any]:
    """onnxruntime's contrib-op schemas (newest version of each), or nothing when it is not installed."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as ort
    except ImportError:
        return {}
    newest: dict[tuple[str, str], Any] = {}
    for schema in ort.get_all_operator_schema():
        key = (schema.domain, schema.name)
        if key not in newest or schema.since_version > newest[key].since_version:
            newest[key] = schema
    return newest


SINGLE_FIELDS = {1: "f", 2: "i", 4: "t", 5: "g", 11: "sparse_tensor", 13: "tp"}
LIST_FIELDS = {6: "floats", 7: "ints", 9: "tensors", 10: "graphs", 12: "sparse_tensors", 14: "type_protos"}
STRING, STRINGS = 3, 8
"""AttributeProto types -> the field holding the value (as onnx.helper.get_attribute_value reads them, which
this replaces on the hot path: one look-up instead of a chain of comparisons per attribute)."""


def decode(attribute: Any) -> Any:
    """An AttributeProto as a Python value: strings as str, lists as lists, tensors and graphs as protos."""
    kind = attribute.type
    if attribute.ref_attr_name:
        raise ValueError(f"Cannot get value of reference attribute: {attribute}")
    if kind in SINGLE_FIELDS:
        return getattr(attribute, SINGLE_FIELDS[kind])
    if kind in LIST_FIELDS:
        return list(getattr(attribute, LIST_FIELDS[kind]))
    if kind == STRING:
        return attribute.s.decode("utf-8", "replace")
    if kind == STRINGS:
        return [v.decode("utf-8", "replace") for v in attribute.strings]
    if kind == 0:  # UNDEFINED
        return None
    raise ValueError(f"Unsupported ONNX attribute: {attribute}")


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
