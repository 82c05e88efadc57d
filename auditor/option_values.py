"""The parsers of `AuditOptions`' fields: what a user gives -> the field's value, or ValueError whose
message says what was expected (`AuditOptions.parse` turns it into an OptionError naming the option).
A new option's parser goes here."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from auditor.ir import DTYPE_BYTES

Parser = Callable[[Any], Any]

SHAPE_HINT = ("is not like 1x3x224x224 or (1, 3, 224, 224) (several inputs: 1x16,1x16 or [(1, 16), (1, 16)]; "
              "a dtype per input: 1x16:int64,1x16:int64)")
DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
                 "short": "int16"}
"""Framework spellings of dtypes, as the IR names them (torch.long is int64)."""


# ---- parsers: user value -> field value, ValueError("what was expected") otherwise ----------------


def _dims(text: str) -> tuple[int, ...]:
    parts = re.split(r"[x,×]", text.strip().lower())
    if not parts or not all(p.strip().isdigit() for p in parts):
        raise ValueError(SHAPE_HINT)
    return tuple(int(p) for p in parts)


def _int_shape(items: Any) -> tuple[int, ...]:
    dims = tuple(items)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise ValueError(SHAPE_HINT)
    if any(d < 0 for d in dims):
        raise ValueError("has a negative dim")
    return dims


def _input_parts(text: str) -> list[str]:
    """The per-input parts of a shapes text: split at ";" and spaces, and at commas between shapes written
    with x ("1x16,1x16" is two inputs, "1,3,224,224" one shape)."""
    parts: list[str] = []
    for part in (p for p in re.split(r"[;\s]+", text.strip()) if p):
        pieces = part.split(",")
        shaped = len(pieces) > 1 and all(re.search(r"[x×:]", piece.lower()) for piece in pieces)
        parts.extend(pieces if shaped else [part])
    return parts


def split_typed_shapes(text: str) -> tuple[str, str] | None:
    """"1x128:int32,1x128:int32" -> ("1x128;1x128", "int32,int32"); None when no part names a dtype."""
    parts = [part.partition(":") for part in _input_parts(text)]
    if not any(sep for _, sep, _ in parts):
        return None
    if not all(sep and dtype.strip() for _, sep, dtype in parts):
        raise ValueError("gives a dtype for some inputs only; give one after every shape (1x16:int64) or none")
    return ";".join(shape for shape, _, _ in parts), ",".join(dtype.strip() for _, _, dtype in parts)


def parse_shapes(value: Any) -> tuple[tuple[int, ...], ...]:
    """One shape per model input.  "1x3x224x224" and "1,3,224,224" are one shape (as on the command line);
    "1x16,1x16", "1x16;1x16" or "1x16 1x16" are two; (1, 3, 224, 224) is one, [(1, 16), (1, 16)] two; () a scalar."""
    if isinstance(value, str):
        parts = _input_parts(value)
        if not parts:
            raise ValueError(SHAPE_HINT)
        return tuple(_dims(p) for p in parts)
    try:
        items = list(value)
    except TypeError:
        raise ValueError(SHAPE_HINT) from None
    if all(isinstance(d, int) and not isinstance(d, bool) for d in items):
        return (_int_shape(items),)
    if not all(isinstance(s, (tuple, list)) for s in items):
        raise ValueError(SHAPE_HINT)
    return tuple(_int_shape(s) for s in items)


def dtype_name(value: Any) -> str:
    """A dtype (torch.int64, numpy's int64, "int64", "long") as the IR names it; ValueError otherwise."""
    text = str(value).strip().lower().removeprefix("torch.").removeprefix("<dtype: '").removesuffix("'>")
    text = DTYPE_ALIASES.get(text, text)
    if text not in DTYPE_BYTES:
        raise ValueError(f"is not a dtype; expected one of {', '.join(DTYPE_BYTES)}")
    return text


def parse_dtypes(value: Any) -> tuple[str, ...]:
    """One dtype for every input ("int64"), or one per input ("int64,float32" or a sequence)."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[;,\s]+", value.strip()) if p]
        if not parts:
            raise ValueError("is not a dtype")
        return tuple(dtype_name(p) for p in parts)
    if isinstance(value, (tuple, list)):
        if not value:
            raise ValueError("gives no dtype")
        return tuple(dtype_name(v) for v in value)
    return (dtype_name(value),)


def parse_count(value: Any) -> int:
    """A whole number >= 0 (an int, or its digits as text)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("is not a whole number >= 0")
    return value


def parse_positive(value: Any) -> int:
    number = parse_count(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("is not True or False")
    return value


def parse_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("is not a string")
    return value


def parse_framework(value: Any) -> str:
    if value not in ("torch", "keras"):
        raise ValueError("is not a framework; use 'torch' or 'keras'")
    return str(value)


def parse_builder_options(value: Any) -> tuple[tuple[str, Any], ...]:
    """Keyword arguments for a reference model's builder ({"aux_logits": True})."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError("is not a mapping of keyword arguments")
    return tuple(sorted(value.items()))


def anything(value: Any) -> Any:
    return value


def one_of(choices: tuple[str, ...]) -> Parser:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"is not one of {', '.join(choices)}")
        return str(value)
    return parse
