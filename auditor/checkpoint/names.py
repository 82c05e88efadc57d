"""Tensor names of an architecture and a checkpoint brought into line: the usual prefix differences
(`model.` / `transformer.` / `bert.` present on one side only) and name patterns for grouping
(`model.layers.N.self_attn.rotary_emb.inv_freq` for 32 such tensors)."""

from __future__ import annotations

import re
from collections.abc import Iterable


def first_components(names: Iterable[str]) -> set[str]:
    """The distinct leading `component.` prefixes of dotted names."""
    return {name.split(".", 1)[0] + "." for name in names if "." in name}


def strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def best_prefixes(expected: Iterable[str], stored: Iterable[str]) -> tuple[str, str]:
    """(prefix dropped from architecture names, prefix dropped from checkpoint names) that lines up the
    most names; ("", "") when nothing does better.  A GPT-2 checkpoint saved from GPT2Model (`h.0...`)
    against GPT2LMHeadModel (`transformer.h.0...`) gives ("transformer.", "")."""
    expected, stored = list(expected), list(stored)
    best, best_score = ("", ""), len(set(expected) & set(stored))
    for a in ["", *sorted(first_components(expected))]:
        keys = {strip(n, a) for n in expected}
        for c in ["", *sorted(first_components(stored))]:
            if not a and not c:
                continue
            score = sum(strip(n, c) in keys for n in stored)
            if score > best_score:
                best, best_score = (a, c), score
    return best


def pattern(name: str) -> str:
    """`model.layers.17.mlp.up_proj.weight` -> `model.layers.N.mlp.up_proj.weight` (for grouping findings)."""
    return re.sub(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.)", "N", name)
