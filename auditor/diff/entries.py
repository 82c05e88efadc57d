"""The entries a diff lines up: an audit's layers that own parameters, or a table's weighted rows.

Each entry carries what alignment compares, read from the rules: the kind's family (`Rule.family`),
whether a flatten feeds it (`Rule.flattens`, looking through `Rule.transparent` layers), and its count
with counting conventions set aside (`Rule.conventions`), recounted by its own rule.
"""

from __future__ import annotations

from auditor.count import Audit
from auditor.diff.model import LayerEntry, Side, TableEntry
from auditor.expect import Expectation
from auditor.explain import count_with, rule_count
from auditor.explain.search import Rules
from auditor.ir import Layer
from auditor.rules import RULES


def _weighted(layer: Layer) -> bool:
    return layer.reported_params > 0 or layer.reported_buffers > 0 or layer.shared_params > 0


def family_of(kind: str | None, rules: Rules) -> str | None:
    rule = rules.get(kind) if kind is not None else None
    return rule.family_name if rule is not None else None


def after_flatten(layers: list[Layer], index: int, rules: Rules) -> bool:
    """Whether layer `index` reads a flattened map (only weight-free, shape-keeping layers in between)."""
    for previous in reversed(layers[:index]):
        rule = rules.get(previous.kind)
        if rule is not None and rule.flattens:
            return True
        if rule is None or not rule.transparent:
            return False
    return False


def convention_free(layer: Layer, reported: int, rules: Rules = RULES) -> int:
    """`reported` less what the layer's counting conventions add, as its own rule counts them."""
    rule = rules.get(layer.kind)
    conventions = rule.conventions if rule is not None else {}
    neutral = {a: v for a, v in conventions.items() if a in layer.attrs and layer.attrs[a] != v}
    if not neutral:
        return reported
    mine, plain = rule_count(layer, rules), count_with(layer, neutral, rules)
    if mine is None or plain is None:
        return reported
    return reported - (mine.params - plain.params)


def model_entries(audit: Audit) -> list[LayerEntry]:
    """The audit's layers that own (or share) parameters or buffers, in execution order."""
    layers, rules = audit.model.layers, audit.rules
    entries = []
    for index, check in enumerate(audit.checks):
        if not _weighted(check.layer):
            continue
        formula = check.formula if check.analytic == check.reported else None
        entries.append(LayerEntry(
            check.path, check.kind, check.reported, formula, after_flatten(layers, index, rules),
            convention_free(check.layer, check.reported, rules), family_of(check.kind, rules),
            check=check, rules=rules, index=index))
    return entries


def table_entries(table: Expectation, rules: Rules = RULES) -> list[TableEntry]:
    return [TableEntry(row.layer, row.kind, row.params or 0, family=family_of(row.kind, rules), row=row)
            for row in table.weighted_rows]


def audit_side(audit: Audit) -> Side:
    model, totals = audit.model, audit.totals
    return Side(model.name, model.source, model.framework, model.exporter,
                totals.macs if totals.macs_complete else None)


def table_side(table: Expectation) -> Side:
    return Side(table.name, table.source, "table")


__all__ = ["after_flatten", "audit_side", "convention_free", "model_entries", "table_entries", "table_side"]
