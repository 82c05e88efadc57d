"""Analytic rules, one module per layer family, registered by canonical kind when the kind is first looked up.

Public extension API: subclass `Rule`, set `kind`, override `count` / `output_shapes` / `macs`,
and `register(MyRule())` (or register it in a copy of `RULES` and pass that to `audit(..., rules=)`).
See `auditor.rules.base` for the counting convention every rule follows.

Owns: every piece of layer math (counts as terms, shapes, MACs) and every layer fact (families,
counting conventions, table columns and spellings, finding codes, folding, convention wording), and the
registry `RULES`.
May import: `auditor.ir`, `auditor.records`, `auditor.registry`, `auditor.errors` and the standard library.
"""

from auditor.rules.base import NO_PARAMS, ParamCount, Rule, RuleError, SymbolicShape, fmt
from auditor.rules.registry import RULES, DuplicateRuleError, get_rule, kinds, register, unregister

__all__ = [
    "NO_PARAMS",
    "DuplicateRuleError",
    "ParamCount",
    "RULES",
    "Rule",
    "RuleError",
    "SymbolicShape",
    "fmt",
    "get_rule",
    "kinds",
    "register",
    "unregister",
]
