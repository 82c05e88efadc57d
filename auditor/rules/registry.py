"""The rule registry `kind -> Rule` (`RULES`): the only global state of the core.

Built-in rules register when `auditor.rules` is imported; users register rules for their own layers
the same way (`register(MyRule())`).  Registering a kind twice is an error, so a user rule never
silently replaces a built-in one (pass `replace=True` to mean it).  `RULES` is an
`auditor.registry.Registry`; `RULES.copy()` gives a caller rules of their own for
`auditor.audit(model, rules=...)`, and `RULES.override(kind, rule)` swaps one for a `with` block.
"""

from __future__ import annotations

from auditor.registry import Registry, RegistryError
from auditor.rules.base import Rule

RULES: Registry[str, Rule] = Registry("rule")
"""The process-wide rules every audit uses unless it is given a registry of its own."""

DuplicateRuleError = RegistryError
"""The registry's one error class, under the name this module has always exported."""


def register(rule: Rule, *, kind: str | None = None, replace: bool = False,
             registry: Registry[str, Rule] | None = None) -> Rule:
    """Register `rule` for `kind` (default: `rule.kind`) in `registry` (default: `RULES`); returns the rule."""
    name = kind or rule.kind
    if not name:
        raise ValueError(f"{type(rule).__name__} has no kind to register under")
    return (RULES if registry is None else registry).register(name, rule, replace=replace)


def unregister(kind: str) -> None:
    """Remove the rule for `kind`, if there is one (for tests and for users replacing their own rules)."""
    RULES.unregister(kind, missing_ok=True)


def get_rule(kind: str) -> Rule | None:
    return RULES.get(kind)


def kinds() -> list[str]:
    return sorted(RULES)
