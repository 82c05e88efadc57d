"""A headline figure as people write it ("138M", "25.6M", "6.7B", "138,344,128", "trainable=60000"), read
as the interval of counts its rounding allows: "25.6M" is anything from 25,550,000 up to 25,649,999."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

UNITS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
"""Suffixes of headline figures (k, M, B or G, T; any case)."""

COUNTS = ("parameters", "trainable")
"""What a claim may count: every parameter, or the trainable ones (`trainable=60000`)."""

_NUMBER = re.compile(r"^(?P<digits>\d[\d,_ ]*(?:\.\d+)?)\s*(?P<unit>[kKmMbBgGtT]?)$")


@dataclass(frozen=True)
class Claim:
    """A claimed count: its value, and the counts from `low` to `high` (inclusive) that round to it."""

    text: str
    value: int
    low: int
    high: int
    count: str = "parameters"
    """"parameters" or "trainable"."""

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def admits(self, n: int) -> bool:
        return self.low <= n <= self.high


def parse_claim(text: str) -> Claim:
    """The claim `text` says; ValueError (what was expected) for anything else."""
    given = text.strip()
    count = "parameters"
    if "=" in given:
        name, _, given = (part.strip() for part in given.partition("="))
        if name.lower() not in COUNTS:
            raise ValueError(f"counts {name!r}; a claim counts {' or '.join(COUNTS)} (trainable=60000)")
        count = name.lower()
    found = _NUMBER.match(given)
    if found is None:
        raise ValueError("is not a count like 138M, 25.6M, 6.7B, 138,344,128 or trainable=60000")
    digits = found["digits"].replace(",", "").replace("_", "").replace(" ", "")
    try:
        number = Decimal(digits)
    except InvalidOperation:
        raise ValueError("is not a number") from None
    unit = UNITS[found["unit"].lower()]
    value = number * unit
    if value != value.to_integral_value():
        raise ValueError("is not a whole number of parameters")
    decimals = -number.as_tuple().exponent if "." in digits else 0  # type: ignore[operator]
    if unit == 1:
        return Claim(text.strip(), int(value), int(value), int(value), count)
    half = Decimal(unit) / (2 * 10**decimals)
    low, high = value - half, value + half
    return Claim(text.strip(), int(value), int(low.to_integral_value(rounding="ROUND_CEILING")),
                 int(high.to_integral_value(rounding="ROUND_CEILING")) - 1, count)


__all__ = ["COUNTS", "UNITS", "Claim", "parse_claim"]
