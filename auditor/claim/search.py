"""Which ways of counting a model reproduce a claimed figure: the count as it is (within the claim's
rounding), else single conventions, else their combinations (up to `MAX_COMBINED`): the readings with
the fewest conventions that reproduce it, nearest first; when none does, the nearest readings, so the
claim is never left without an answer."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from auditor.claim.conventions import Convention, conventions
from auditor.claim.parse import Claim
from auditor.count import Audit

MAX_COMBINED = 3
"""At most this many conventions are combined in one reading."""
SHOWN = 5
"""At most this many readings are kept (matches, or the nearest when none matches)."""


@dataclass(frozen=True)
class Reading:
    """One way of counting the model and the count it gives."""

    conventions: tuple[Convention, ...]
    count: int

    @property
    def words(self) -> str:
        return "; ".join(c.words for c in self.conventions) or "as counted"


@dataclass(frozen=True)
class ClaimCheck:
    """A claim against a model: the readings that reproduce it, or the nearest ones."""

    claim: Claim
    counted: int
    """The model's own count of what the claim counts (all parameters, or the trainable ones)."""
    matches: tuple[Reading, ...]
    nearest: tuple[Reading, ...]

    @property
    def reproduced(self) -> bool:
        return bool(self.matches)


def check_claim(audit: Audit, claim: Claim) -> ClaimCheck:
    """Every reading of `audit` up to MAX_COMBINED conventions, against `claim`."""
    trainable = claim.count == "trainable"
    layers = audit.model.layers
    base = [layer.reported_trainable if trainable else layer.reported_params for layer in layers]
    found = conventions(audit, trainable)
    counts = {combo: _count(base, combo) for combo in _combinations(found)}
    readings = [Reading(combo, n) for combo, n in counts.items() if _minimal(combo, n, counts)]
    admitted = [r for r in readings if claim.admits(r.count)]
    fewest = min((len(r.conventions) for r in admitted), default=0)
    matches = sorted((r for r in admitted if len(r.conventions) == fewest), key=lambda r: abs(r.count - claim.value))
    nearest: dict[int, Reading] = {}
    for r in sorted(readings, key=lambda r: (abs(r.count - claim.value), len(r.conventions))):
        nearest.setdefault(r.count, r)
    return ClaimCheck(claim, sum(base), tuple(matches[:SHOWN]), tuple(list(nearest.values())[:3]) if not matches else ())


def _minimal(combo: tuple[Convention, ...], n: int, counts: dict[tuple[Convention, ...], int]) -> bool:
    """No convention of the combination is idle: leaving any one out changes the count."""
    return all(counts.get(tuple(c for c in combo if c is not left)) != n for left in combo)


def _combinations(found: list[Convention]) -> list[tuple[Convention, ...]]:
    """The empty reading, then every combination of up to MAX_COMBINED conventions that may combine."""
    out: list[tuple[Convention, ...]] = [()]
    for size in range(1, MAX_COMBINED + 1):
        for combo in combinations(found, size):
            groups = [c.exclusive for c in combo if c.exclusive]
            if len(groups) == len(set(groups)):
                out.append(combo)
    return out


def _count(base: list[int], combo: tuple[Convention, ...]) -> int:
    """The layers no convention leaves out, each with every convention's change to it."""
    removed = frozenset().union(*(c.removes for c in combo)) if combo else frozenset()
    total = sum(n for i, n in enumerate(base) if i not in removed)
    return total + sum(d for c in combo for i, d in c.deltas if i not in removed)


__all__ = ["MAX_COMBINED", "ClaimCheck", "Reading", "check_claim"]
