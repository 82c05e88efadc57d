"""How people write numbers, sizes and switches in a hand-written table, read into values: 9,248 and
9'248 and 9 248; 3, 3x3 and (3, 3); yes/no; same/valid or pad sizes.  One clear InputError otherwise."""

from __future__ import annotations

import re
from typing import Any

from auditor.errors import InputError


def parse_count(text: Any, where: str) -> int | None:
    """A whole number as people write it (9248, 9,248, 9'248, 9 248, 9_248); None when blank."""
    if text is None or isinstance(text, bool):
        if isinstance(text, bool):
            raise InputError(f"{where}: {text!r} is not a whole number")
        return None
    if isinstance(text, int):
        return _non_negative(text, where)
    if isinstance(text, float):
        if text.is_integer():
            return _non_negative(int(text), where)
        raise InputError(f"{where}: {text!r} is not a whole number")
    cleaned = re.sub(r"[,'_ \u00a0\u2009]", "", str(text).strip())
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise InputError(f"{where}: {str(text).strip()!r} is not a whole number")
    return int(cleaned)


def _non_negative(value: int, where: str) -> int:
    if value < 0:
        raise InputError(f"{where}: {value} is negative")
    return value


def parse_dims(text: Any, where: str) -> tuple[int, ...] | None:
    """"3", "3x3", "3×3", "(3, 3)", [3, 3] -> an int tuple; None when blank."""
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        return (text,)
    if isinstance(text, (list, tuple)):
        parts = [str(t) for t in text]
    else:
        stripped = str(text).strip().strip("()[]")
        if not stripped:
            return None
        parts = re.split(r"\s*[x×X*,]\s*", stripped)
    if not parts or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"{where}: {text!r} is not a size such as 3 or 3x3")
    return tuple(int(p) for p in parts)


def parse_bool(text: Any, where: str) -> bool | None:
    if text is None or isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if not word:
        return None
    if word in ("1", "true", "yes", "y", "t"):
        return True
    if word in ("0", "false", "no", "n", "f", "none"):
        return False
    raise InputError(f"{where}: {text!r} is not yes/no")


def parse_padding(text: Any, where: str) -> str | int | tuple[int, ...] | None:
    """"same" / "valid" stay words; numbers become an int (all sides) or a per-axis tuple."""
    if text is None:
        return None
    word = str(text).strip().lower() if not isinstance(text, (list, tuple)) else ""
    if word in ("same", "valid"):
        return word
    if isinstance(text, str) and not word:
        return None
    dims = parse_dims(text, where)
    return dims[0] if dims is not None and len(dims) == 1 else dims


__all__ = ["parse_bool", "parse_count", "parse_dims", "parse_padding"]
