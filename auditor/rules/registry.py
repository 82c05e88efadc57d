"""The registry `kind -> Rule`: the only global state in nn-auditor.

Built-in rules register when `auditor.rules` is imported; users register rules for their own
layers the same way (`register(MyRule())`).  Registering a kind twice is an error, so a user rule
never silently replaces a built-in one (pass `replace=True` to mean it).
"""

from __future__ import annotations

from auditor.rules.base import Rule

_RULES: dict[str, Rule] = {}


class DuplicateRuleError(ValueError):
    """A rule for this kind is already registered."""


def register(rule: Rule, *, kind: str | None = None, replace: bool = False) -> Rule:
    """Register `rule` for `kind` (default: `rule.kind`); returns the rule, so it works inline."""
    name = kind or rule.kind
    if not name:
        raise ValueError(f"{type(rule).__name__} has no kind to register under")
    if name in _RULES and not replace:
        raise DuplicateRuleError(
            f"a rule for kind {name!r} is already registered ({type(_RULES[name]).__name__})"
        )
    _RULES[name] = rule
    return rule


def unregister(kind: str) -> None:
    """Remove the rule for `kind` (for tests and for users replacing their own rules)."""
    _RULES.pop(kind, None)


def get_rule(kind: str) -> Rule | None:
    return _RULES.get(kind)


def kinds() -> list[str]:
    return sorted(_RULES)
