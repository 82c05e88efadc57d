"""The well-known ways a headline figure counts a model, each worked out layer by layer from the rules'
metadata (`Rule.biases`, `statistics`, `embedding`, `head`, `merged_towers`, `position_table`) and the IR (tied uses,
buffers, trainable flags, layers forward never called, repeated blocks): no list of layer names or kinds
lives here.

A convention either leaves layers out (`removes`: the classifier head, embedding tables, auxiliary
heads) or changes what a layer counts (`deltas`: its biases dropped, its statistics added ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auditor.count import Audit
from auditor.explain import count_with, rule_count
from auditor.ir import Layer
from auditor.memory.checkpointing import blocks
from auditor.registry import Registry
from auditor.rules import Rule, RuleError

Rules = Registry[str, Rule]


@dataclass(frozen=True)
class Convention:
    """One way of counting: per-layer changes, or layers left out, and the layers it touches."""

    key: str
    words: str
    deltas: tuple[tuple[int, int], ...] = ()
    """(layer index, elements added or taken away)."""
    removes: frozenset[int] = frozenset()
    """Indices of the layers it leaves out."""
    exclusive: str = ""
    """Conventions of one non-empty group do not combine (buffers include BatchNorm statistics)."""

    def layers(self, audit: Audit) -> list[str]:
        indices = sorted(self.removes | {i for i, _ in self.deltas})
        return [audit.model.layers[i].path for i in indices]


def conventions(audit: Audit, trainable: bool = False) -> list[Convention]:
    """Every convention that changes this model's count (for a trainable claim, those that apply to it)."""
    layers, rules = audit.model.layers, audit.rules
    owner = blocks(audit.model)
    copies = {layer.path: 1 if i in owner else max(len(set(owner.values())), 1) for i, layer in enumerate(layers)}
    uncalled = _uncalled(audit)
    found = [
        _removal("no_head", "without the classifier head", _head(layers, rules, uncalled)),
        _removal("no_embeddings", "without embeddings (token and position tables: Kaplan's non-embedding count)",
                 _embeddings(layers, rules, token=True)),
        _removal("no_position_embeddings", "without position embeddings", _embeddings(layers, rules, token=False)),
        _removal("no_aux_heads", "without the auxiliary heads (layers forward never calls)", uncalled),
        _adjusted("weights_only", "weights only, no biases", layers, lambda layer: _recount(layer, rules, "biases")),
        _adjusted("tied_twice", "tied head counted twice (once per layer that uses it)", layers,
                  lambda layer: layer.shared_params),
        _adjusted("groups_merged", "grouped convs counted as one tower (groups=1)", layers,
                  lambda layer: _ungrouped(layer, rules)),
    ]
    if not trainable:
        found += [
            _adjusted("trainable_only", "trainable only", layers,
                      lambda layer: layer.reported_trainable - layer.reported_params, "stats"),
            _adjusted("bn_statistics", "BatchNorm running statistics counted as parameters", layers,
                      lambda layer: _recount(layer, rules, "statistics"), "stats"),
            _adjusted("buffers", "buffers counted as parameters", layers, lambda layer: layer.reported_buffers, "stats"),
            _adjusted("rotary_buffers", "rotary inverse frequencies counted, one table per block (as older "
                      "checkpoints stored them in every attention layer)", layers,
                      lambda layer: _rotary(layer, rules, copies[layer.path]), "stats"),
        ]
    return [c for c in found if c.deltas or c.removes]


def _removal(key: str, words: str, indices: list[int]) -> Convention:
    return Convention(key, words, removes=frozenset(indices))


def _adjusted(key: str, words: str, layers: list[Layer], delta: Callable[[Layer], int], exclusive: str = "") -> Convention:
    """A convention that changes layers' counts, each by `delta(layer)` elements."""
    changes = tuple((i, d) for i, layer in enumerate(layers) if (d := delta(layer)))
    return Convention(key, words, deltas=changes, exclusive=exclusive)


def _recount(layer: Layer, rules: Rules, metadata: str) -> int:
    """The layer's count with the rule's `metadata` attribute values (biases off, statistics as params) minus its own."""
    rule = rules.get(layer.kind)
    values = getattr(rule, metadata, {}) if rule is not None else {}
    changes = {a: v for a, v in values.items() if a in layer.attrs and layer.attrs[a] != v}
    if not changes:
        return 0
    mine, other = rule_count(layer, rules), count_with(layer, changes, rules)
    if mine is None or other is None or mine.params != layer.reported_params:
        return 0
    return other.params - mine.params


def _ungrouped(layer: Layer, rules: Rules) -> int:
    """The layer's count as one tower (its rule's `merged_towers`) minus its own."""
    rule = rules.get(layer.kind)
    try:
        changes = rule.merged_towers(layer) if rule is not None else {}
    except RuleError:
        return 0
    mine, merged = rule_count(layer, rules), count_with(layer, changes, rules) if changes else None
    return 0 if mine is None or merged is None else merged.params - mine.params


def _rotary(layer: Layer, rules: Rules, copies: int) -> int:
    """One position table per block for a layer outside the blocks (`copies`), else its own one table."""
    rule = rules.get(layer.kind)
    try:
        return copies * rule.position_table(layer) if rule is not None else 0
    except RuleError:
        return 0


def _weighted(layers: list[Layer]) -> list[int]:
    return [i for i, layer in enumerate(layers) if layer.reported_params or layer.shared_params]


def _head(layers: list[Layer], rules: Rules, uncalled: list[int]) -> list[int]:
    """The last layer with parameters that forward reaches, when its rule says it can be a head."""
    weighted = [i for i in _weighted(layers) if i not in uncalled]
    if not weighted:
        return []
    rule = rules.get(layers[weighted[-1]].kind)
    return [weighted[-1]] if rule is not None and rule.head else []


def _embeddings(layers: list[Layer], rules: Rules, token: bool) -> list[int]:
    """Every embedding table (`token`), or those that are not the token table: position (or type) tables."""
    tables = [i for i in _weighted(layers) if (rule := rules.get(layers[i].kind)) is not None and rule.embedding]
    if token:
        return tables
    own = {i: rules.get(layers[i].kind).embedding for i in tables}  # type: ignore[union-attr]
    vocabulary = _token_table(layers, [i for i in tables if own[i] == "token"])
    return [i for i in tables if own[i] == "position" or (own[i] == "token" and i != vocabulary)]


def _token_table(layers: list[Layer], candidates: list[int]) -> int | None:
    """The vocabulary: the table a head shares (tied), else the one with the most rows."""
    tied = {p.shared_with for layer in layers for p in layer.params if p.shared_with}
    for i in candidates:
        if layers[i].path in tied:
            return i
    return max(candidates, key=lambda i: layers[i].reported_params, default=None)


def _uncalled(audit: Audit) -> list[int]:
    """Layers with parameters a complete forward pass never called (a model's training-only heads)."""
    layers = audit.model.layers
    return [i for i in _weighted(layers) if layers[i].called is False]


__all__ = ["Convention", "conventions"]
