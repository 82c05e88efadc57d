"""Generic sequence algorithms on plain integer-indexed inputs, used by `auditor.diff` to line up layers.

Owns: global alignment with gaps (Needleman-Wunsch), the largest order-keeping matching among candidate
pairs, and the heaviest strictly increasing chain.  Knows nothing about layers, rules or models.
May import: the standard library only.
"""

from auditor.align.chain import heaviest_chain
from auditor.align.global_alignment import Pair, global_alignment
from auditor.align.matching import ordered_matching

__all__ = ["Pair", "global_alignment", "heaviest_chain", "ordered_matching"]
