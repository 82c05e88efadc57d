"""A finding: one explained (or unexplained) discrepancy between two counts of the same thing.

Its own module because a consistent audit creates none: the layer check imports it only when a count,
a buffer total or a shape disagrees, so an audit that finds nothing never builds the class.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One explained (or unexplained) discrepancy, with a stable code and a sentence to act on."""

    code: str
    message: str
    amount: int | None = None
    """The elements this finding accounts for, signed (the other side minus this one); None if it counts none.
    Of several findings that explain one difference (alternatives, or one change with several codes) only
    the first carries the difference; the others carry 0, so a row's amounts add up to what they explain."""
    cause: str = ""
    """A short phrase naming the cause, the same for every finding it groups with in a reconciliation
    ("kernel_size 2x2 not 3x3"); empty: the code alone."""
    equivalent: bool = False
    """The difference is a counting convention or an exporter's rewrite: both sides compute the same."""


__all__ = ["Finding"]
