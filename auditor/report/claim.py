"""Render a `ClaimCheck`: whether a headline figure is reproduced, by which ways of counting, or the nearest
ones when none is.  Rendering only."""

from __future__ import annotations

from typing import Any

from auditor.claim import ClaimCheck, Reading
from auditor.count import Audit
from auditor.report.reconciliation import signed

SHOWN_LAYERS = 3
"""A convention names at most this many of the layers it touches in text (JSON names them all)."""


def claim_lines(check: ClaimCheck, audit: Audit, markdown: bool = False) -> list[str]:
    claim = check.claim
    span = "" if claim.exact else f" ({claim.low:,} to {claim.high:,})"
    verdict = "reproduced" if check.reproduced else "no counting convention reproduces it"
    head = f"Claim {claim.text}{span}, {claim.count}: {verdict}"
    lines = ["", f"### {head}" if markdown else head]
    if check.reproduced:
        lines += [f"- {_reading(r, check, audit)}" for r in check.matches]
    else:
        lines += [f"- nearest: {_reading(r, check, audit)} ({signed(r.count - claim.value)} from {claim.text})"
                  for r in check.nearest]
    return lines


def _reading(reading: Reading, check: ClaimCheck, audit: Audit) -> str:
    """"138,344,128 = 138,357,544 -13,416: weights only, no biases (16 layers: 0, 2, 5, ...)"."""
    if not reading.conventions:
        rounding = "" if not check.claim.admits(reading.count) or reading.count == check.claim.value \
            else ", within the claim's rounding"
        return f"{reading.count:,} as counted{rounding}"
    parts = []
    for convention in reading.conventions:
        names = convention.layers(audit)
        shown = ", ".join(names[:SHOWN_LAYERS]) + (", ..." if len(names) > SHOWN_LAYERS else "")
        parts.append(f"{convention.words} ({shown if len(names) == 1 else f'{len(names)} layers: {shown}'})")
    return f"{reading.count:,} = {check.counted:,} {signed(reading.count - check.counted)}: " + "; ".join(parts)


def claim_to_dict(check: ClaimCheck, audit: Audit) -> dict[str, Any]:
    """The JSON block: `value`, the interval its rounding allows, `matches[]` ({conventions, count}), `nearest[]`."""
    claim = check.claim

    def reading(r: Reading) -> dict[str, Any]:
        return {"conventions": [c.words for c in r.conventions], "keys": [c.key for c in r.conventions],
                "count": r.count, "difference": r.count - claim.value,
                "layers": {c.key: c.layers(audit) for c in r.conventions}}

    return {"text": claim.text, "value": claim.value, "count": claim.count, "low": claim.low, "high": claim.high,
            "exact": claim.exact, "counted": check.counted, "reproduced": check.reproduced,
            "matches": [reading(r) for r in check.matches], "nearest": [reading(r) for r in check.nearest]}


__all__ = ["claim_lines", "claim_to_dict"]
