"""Turn a count difference into findings a person can act on.

Owns: the perturbation search (`search`: copy the layer, change one or the stated set of perturbable
attributes, recount the copy with the same rule the counter uses, keep each change that reproduces the
other number exactly), the wording of findings (`wording`, `findings`), and the direct checks of a
table's hyper-parameter columns (`tables`).  Layer facts come from the rules (`Rule.choices`,
`columns`, `codes`, `reason`); counts are read from a rule's `ParamCount` terms, never parsed from text.
Row-level conventions (BatchNorm folded by an exporter, tied weights) live in `auditor.diff`.
May import: `auditor.ir`, `auditor.rules`, `auditor.registry`, `auditor.findings`.
"""

from auditor.explain.findings import Explanation, explain_count, unexplained
from auditor.explain.search import (
    MAX_EXPLANATIONS,
    Perturbation,
    count_with,
    perturbations,
    rule_count,
    same_value,
)
from auditor.explain.tables import compare_hyper, expand, stated_attrs
from auditor.explain.wording import Wording, count_text, reason, show

__all__ = [
    "MAX_EXPLANATIONS",
    "Explanation",
    "Perturbation",
    "Wording",
    "compare_hyper",
    "count_text",
    "count_with",
    "expand",
    "explain_count",
    "perturbations",
    "reason",
    "rule_count",
    "same_value",
    "show",
    "stated_attrs",
    "unexplained",
]
