"""Line up two layer sequences with parameters (two audits, or an audit and an expectation table)
and explain every row that differs.

Alignment is by order and kind, never by name (Keras 2 calls the U-Net's 11th conv `conv2d_11`,
Keras 3 `conv2d_10`).  Three steps (`match`):

1. Needleman-Wunsch, scored by kind equality and count closeness, so one missing or extra layer
   leaves the rows after it in place; names only break ties.  Counts are compared convention-free:
   each layer is recounted by its own rule with the counting-convention attributes set to a neutral
   value (`CONVENTIONS`: BatchNorm statistics left out, RNN bias vectors left out), and two layers
   count as equal when their convention-free counts agree (a table row, whose convention is
   unknown, also when its number equals the layer's reported count).  A Keras
   BatchNorm (4*C) and a PyTorch one (2*C + buffers) thus pair as equals; the row still shows the
   reported numbers and the `bn_convention` finding.
2. Reordered branches: a branched model has many valid topological orders (Keras lists a
   Functional model by depth, PyTorch by call order), so a ResNet shortcut or an Inception branch
   sits elsewhere on each side and step 1 pairs wrong layers.  Rows left unsettled by step 1
   (one-sided, or paired with a different convention-free count) are searched for a left and a
   right entry of the same kind family and equal count, within `WINDOW` rows of each other or
   anywhere when both are each other's only candidate.  Entries of one kind and count keep their
   relative order (the most such pairs, then the nearest).  These pairs are taken out of both
   sequences.  Step 1 then realigns what is left, and step 2 repeats until it finds nothing new
   (at most `MAX_PASSES` times).  Last, one-sided layers left within `WINDOW` rows of each other
   that are one layer with one attribute changed (same kind; setting that one rule attribute to the
   other's value gives the other's count, e.g. a shortcut conv with and without a bias) are paired
   the same way, so the row explains the change instead of reporting a lost and an extra layer.
3. The taken pairs are put back at their left entry's place.  Of all paired rows, the heaviest
   chain that is in order on both sides (every step-1 pair outweighs all taken pairs together) is
   "in place"; the taken pairs outside it are marked `moved`: listed in a different order, not a
   difference in counts.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from auditor.count import Audit, Finding, LayerCheck
from auditor.expect import Expectation, ExpectedRow
from auditor.explain import (
    Wording,
    compare_hyper,
    count_text,
    count_with,
    explain_count,
    rule_count,
    same_value,
    stated_attrs,
)
from auditor.ir import Layer
from auditor.rules import fmt, get_rule

SCHEMA = "nn-auditor/diff@1"
GAP = -1.0
"""Score of leaving one row unmatched."""

FAMILIES = {"conv": "conv", "conv_transpose": "conv", "separable_conv": "conv", "dense": "dense", "matmul": "dense"}
FLATTENERS = ("flatten", "reshape")
TRANSPARENT = ("activation", "dropout", "identity", "cast", "softmax")
"""Param-free kinds skipped when looking for the flatten in front of a dense layer."""
CONVENTIONS: dict[str, Any] = {"stats": "none", "bias_vectors": 0}
"""Attributes that are a framework's counting convention, and the neutral value both sides are compared at."""
WINDOW = 12
"""How many rows apart two entries of a reordered branch may be listed and still be paired as moved."""
MAX_PASSES = 4
"""Rounds of pairing moved entries and realigning the rest."""
Edge = tuple[int, int, int, int]
"""A candidate pair: (left row position, left entry index, right row position, right entry index)."""


class RowStatus(enum.StrEnum):
    SAME = "same"
    DIFFERS = "differs"
    ONLY_LEFT = "only-left"
    ONLY_RIGHT = "only-right"


@dataclass
class Entry:
    """One side of a row: a model layer (with its check) or a table row."""

    name: str
    kind: str | None
    params: int
    formula: str | None = None
    check: LayerCheck | None = None
    row: ExpectedRow | None = None
    after_flatten: bool = False
    norm: int | None = None
    """The count with framework conventions set aside (see `CONVENTIONS`); None: the reported count."""

    @property
    def layer(self) -> Layer | None:
        return self.check.layer if self.check is not None else None

    @property
    def compared(self) -> int:
        """The count alignment compares: convention-free when known, else as reported."""
        return self.params if self.norm is None else self.norm


@dataclass
class DiffRow:
    left: Entry | None
    right: Entry | None
    status: RowStatus = RowStatus.SAME
    findings: list[Finding] = field(default_factory=list)
    moved: bool = False
    """The pair is listed in a different order on the two sides (a reordered branch)."""

    @property
    def left_params(self) -> int | None:
        return self.left.params if self.left is not None else None

    @property
    def right_params(self) -> int | None:
        return self.right.params if self.right is not None else None

    @property
    def delta(self) -> int:
        """right - left (a missing side counts as 0)."""
        return (self.right_params or 0) - (self.left_params or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left.name if self.left else None,
            "right": self.right.name if self.right else None,
            "left_kind": self.left.kind if self.left else None,
            "right_kind": self.right.kind if self.right else None,
            "left_params": self.left_params,
            "right_params": self.right_params,
            "delta": self.delta,
            "status": str(self.status),
            "left_formula": self.left.formula if self.left else None,
            "right_formula": self.right.formula if self.right else None,
            "findings": [{"code": f.code, "message": f.message} for f in self.findings],
            "moved": self.moved,
        }


@dataclass
class Diff:
    """Two sides lined up row by row; `findings` are model-level (totals), rows carry their own."""

    left: dict[str, Any]
    right: dict[str, Any]
    rows: list[DiffRow]
    left_total: int
    right_total: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.findings) or any(row.status != RowStatus.SAME for row in self.rows)

    @property
    def all_findings(self) -> list[Finding]:
        return [f for row in self.rows for f in row.findings] + self.findings

    def to_dict(self) -> dict[str, Any]:
        counts = {s.value: sum(row.status == s for row in self.rows) for s in RowStatus}
        return {
            "schema": SCHEMA,
            "left": self.left,
            "right": self.right,
            "differs": self.differs,
            "totals": {
                "left": self.left_total,
                "right": self.right_total,
                "delta": self.right_total - self.left_total,
                "rows": counts,
            },
            "rows": [row.to_dict() for row in self.rows],
            "findings": [{"code": f.code, "message": f.message} for f in self.findings],
            "notes": list(self.notes),
        }


# --- alignment --------------------------------------------------------------------------------


def _kind_score(a: str | None, b: str | None) -> float:
    if a is None or b is None:
        return 1.0
    if a == b:
        return 2.0
    if FAMILIES.get(a, a) == FAMILIES.get(b, b):
        return 1.0
    return -1.0


def same_count(a: Entry, b: Entry) -> bool:
    """Equal once counting conventions are set aside; a table row (its convention unknown) may also match as reported."""
    if a.norm is not None and b.norm is not None:
        return a.norm == b.norm
    return a.params == b.params or a.compared == b.compared


def _family(kind: str | None) -> str | None:
    return FAMILIES.get(kind, kind) if kind is not None else None


def score(a: Entry, b: Entry) -> float:
    """How well two entries pair up: kind agreement, then count closeness; equal names break ties.

    Unequal counts cost a point, so a run of exact pairs shifted by a reordered branch beats pairing
    every row of the run with its neighbour (the branch is left to the moved pass).
    """
    total = _kind_score(a.kind, b.kind)
    if same_count(a, b):
        total += 2.0
    else:
        total += min(a.compared, b.compared) / max(a.compared, b.compared, 1) - 1.0
    if a.name == b.name:
        total += 0.1
    return total


def align(left: list[Entry], right: list[Entry]) -> list[tuple[int | None, int | None]]:
    """Needleman-Wunsch: index pairs in order, None where a row has no counterpart."""
    n, m = len(left), len(right)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        best[i][0] = i * GAP
    for j in range(1, m + 1):
        best[0][j] = j * GAP
    for i in range(1, n + 1):
        row, above = best[i], best[i - 1]
        for j in range(1, m + 1):
            row[j] = max(above[j - 1] + score(left[i - 1], right[j - 1]), above[j] + GAP, row[j - 1] + GAP)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and best[i][j] == best[i - 1][j - 1] + score(left[i - 1], right[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and best[i][j] == best[i - 1][j] + GAP:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


@dataclass(frozen=True)
class Match:
    """One aligned row: indices into the left and right entries (None: no counterpart)."""

    left: int | None
    right: int | None
    moved: bool = False


def match(left: list[Entry], right: list[Entry]) -> list[Match]:
    """Align; pair reordered branches (equal counts, then one attribute apart) and realign the rest; mark
    the pairs listed out of order.  See the module docstring."""
    taken: dict[int, int] = {}
    rest = align(left, right)
    for _ in range(MAX_PASSES):
        found = _moved_pairs(left, right, rest)
        if not found:
            break
        taken.update(found)
        rest = _align_rest(left, right, taken)
    changed = _changed_pairs(left, right, rest)
    if changed:
        taken.update(changed)
        rest = _align_rest(left, right, taken)
    return _merge(rest, taken, len(right))


def _align_rest(left: list[Entry], right: list[Entry], taken: dict[int, int]) -> list[tuple[int | None, int | None]]:
    """Needleman-Wunsch over the entries not yet taken, as indices into the full sequences."""
    used = set(taken.values())
    lefts = [i for i in range(len(left)) if i not in taken]
    rights = [j for j in range(len(right)) if j not in used]
    pairs = align([left[i] for i in lefts], [right[j] for j in rights])
    return [(None if i is None else lefts[i], None if j is None else rights[j]) for i, j in pairs]


def _unsettled(left: list[Entry], right: list[Entry], rows: list[tuple[int | None, int | None]]) -> tuple[
        list[tuple[int, int]], list[tuple[int, int]]]:
    """(row position, entry index) of left and right entries that are one-sided or paired with another count."""
    lefts, rights = [], []
    for at, (i, j) in enumerate(rows):
        if i is not None and j is not None and same_count(left[i], right[j]):
            continue
        if i is not None and left[i].compared > 0:
            lefts.append((at, i))
        if j is not None and right[j].compared > 0:
            rights.append((at, j))
    return lefts, rights


def _movable(a: Entry, b: Entry) -> bool:
    """Same kind family (a table row without a kind fits any) and the same count."""
    kinds_fit = a.kind is None or b.kind is None or _family(a.kind) == _family(b.kind)
    return kinds_fit and same_count(a, b)


def _moved_pairs(left: list[Entry], right: list[Entry], rows: list[tuple[int | None, int | None]]) -> dict[int, int]:
    """Unsettled left and right entries of the same kind and count: nearby, or each other's only candidate.

    Entries of one kind and count keep their relative order (two equal BatchNorms of a block are not swapped).
    """
    lefts, rights = _unsettled(left, right, rows)
    by_count: dict[int, list[tuple[int, int]]] = {}
    for q, j in rights:
        for count in {right[j].params, right[j].compared}:
            by_count.setdefault(count, []).append((q, j))
    edges: list[Edge] = []
    for p, i in lefts:
        seen = {cand for count in {left[i].params, left[i].compared} for cand in by_count.get(count, [])}
        edges += [(p, i, q, j) for q, j in sorted(seen) if _movable(left[i], right[j])]
    left_degree = Counter(edge[1] for edge in edges)
    right_degree = Counter(edge[3] for edge in edges)
    classes: dict[Any, list[Edge]] = {}
    for p, i, q, j in edges:
        if abs(p - q) <= WINDOW or (left_degree[i] == 1 and right_degree[j] == 1):
            classes.setdefault((_family(left[i].kind), right[j].compared), []).append((p, i, q, j))
    return _pick(classes)


def _pick(classes: dict[Any, list[Edge]]) -> dict[int, int]:
    """Within each class the most pairs that keep their order; each entry used once over all classes."""
    found: dict[int, int] = {}
    for group in classes.values():
        for i, j in _ordered_matching(group):
            if i not in found and j not in found.values():
                found[i] = j
    return found


def _ordered_matching(edges: list[Edge]) -> list[tuple[int, int]]:
    """The most (p, i, q, j) edges with p and q both increasing, then the least total |p - q|: (i, j) pairs."""
    ps = sorted({(p, i) for p, i, _, _ in edges})
    qs = sorted({(q, j) for _, _, q, j in edges})
    allowed = {((p, i), (q, j)) for p, i, q, j in edges}
    best = [[(0, 0)] * (len(qs) + 1) for _ in range(len(ps) + 1)]
    for x, a in enumerate(ps):
        for y, b in enumerate(qs):
            take = (best[x][y][0] + 1, best[x][y][1] - abs(a[0] - b[0])) if (a, b) in allowed else (-1, 0)
            best[x + 1][y + 1] = max(take, best[x][y + 1], best[x + 1][y])
    pairs, x, y = [], len(ps), len(qs)
    while x and y:
        if best[x][y] == best[x - 1][y]:
            x -= 1
        elif best[x][y] == best[x][y - 1]:
            y -= 1
        else:
            pairs.append((ps[x - 1][1], qs[y - 1][1]))
            x, y = x - 1, y - 1
    return pairs[::-1]


def _changed_pairs(left: list[Entry], right: list[Entry], rows: list[tuple[int | None, int | None]]) -> dict[int, int]:
    """One-sided layers, near each other, that are one layer with one attribute changed (a bias dropped ...)."""
    lefts = [(at, i) for at, (i, j) in enumerate(rows) if i is not None and j is None]
    rights = [(at, j) for at, (i, j) in enumerate(rows) if j is not None and i is None]
    edges = [(p, i, q, j) for p, i in lefts for q, j in rights
             if abs(p - q) <= WINDOW and _one_change(left[i], right[j])]
    classes: dict[Any, list[Edge]] = {}
    for edge in edges:
        classes.setdefault(left[edge[1]].kind, []).append(edge)
    return _pick(classes)


def _one_change(a: Entry, b: Entry) -> bool:
    """Same kind, one of the rule's attributes differs, and setting it to b's value gives b's count."""
    this, other = a.layer, b.layer
    rule = get_rule(this.kind) if this is not None else None
    if this is None or other is None or rule is None or this.kind != other.kind:
        return False
    differing = {x: other.attrs[x] for x in rule.perturbable
                 if x in this.attrs and x in other.attrs and not same_value(this.attrs[x], other.attrs[x])}
    if len(differing) != 1:
        return False
    changed, theirs = count_with(this, differing), rule_count(other)
    return changed is not None and theirs is not None and changed.params == theirs.params == b.params


def _merge(rest: list[tuple[int | None, int | None]], taken: dict[int, int], width: int) -> list[Match]:
    """The realigned rows with each taken pair put back before the first row of a later left entry."""
    out = [Match(i, j) for i, j in rest]
    for i, j in sorted(taken.items()):
        at = next((k for k, row in enumerate(out) if row.left is not None and row.left > i), len(out))
        out.insert(at, Match(i, j))
    paired = [(k, row.left, row.right) for k, row in enumerate(out) if row.left is not None and row.right is not None]
    heavy = len(taken) + 1
    weights = [1 if taken.get(i) == j else heavy for _, i, j in paired]
    in_order = _heaviest_chain([j for _, _, j in paired], weights, width)
    for n, (k, i, j) in enumerate(paired):
        if n not in in_order:
            out[k] = Match(i, j, moved=True)
    return out


def _heaviest_chain(values: list[int], weights: list[int], width: int) -> set[int]:
    """Positions of the heaviest subsequence of `values` (distinct ints below width) that increases."""
    tree = [(0, -1)] * (width + 1)
    back = [-1] * len(values)
    for n, value in enumerate(values):
        best, k = (0, -1), value
        while k > 0:
            best, k = max(best, tree[k]), k - (k & -k)
        back[n] = best[1]
        total, k = (best[0] + weights[n], n), value + 1
        while k <= width:
            tree[k], k = max(tree[k], total), k + (k & -k)
    best, k = (0, -1), width
    while k > 0:
        best, k = max(best, tree[k]), k - (k & -k)
    chain, n = set(), best[1]
    while n >= 0:
        chain.add(n)
        n = back[n]
    return chain


# --- entries ----------------------------------------------------------------------------------


def _weighted(layer: Layer) -> bool:
    return layer.reported_params > 0 or layer.reported_buffers > 0 or layer.shared_params > 0


def _after_flatten(layers: list[Layer], index: int) -> bool:
    for previous in reversed(layers[:index]):
        if previous.kind in FLATTENERS:
            return True
        if previous.kind not in TRANSPARENT:
            return False
    return False


def model_entries(audit: Audit) -> list[Entry]:
    """The audit's layers that own (or share) parameters or buffers, in execution order."""
    layers = audit.model.layers
    entries = []
    for index, check in enumerate(audit.checks):
        if not _weighted(check.layer):
            continue
        formula = check.formula if check.analytic == check.reported else None
        entries.append(Entry(check.path, check.kind, check.reported, formula, check=check,
                             after_flatten=_after_flatten(layers, index), norm=convention_free(check.layer, check.reported)))
    return entries


def convention_free(layer: Layer, reported: int) -> int:
    """`reported` less what the layer's counting conventions add, as its own rule counts them."""
    neutral = {a: v for a, v in CONVENTIONS.items() if a in layer.attrs and layer.attrs[a] != v}
    if not neutral:
        return reported
    mine, plain = rule_count(layer), count_with(layer, neutral)
    if mine is None or plain is None:
        return reported
    return reported - (mine.params - plain.params)


def table_entries(table: Expectation) -> list[Entry]:
    return [Entry(row.layer, row.kind, row.params or 0, row=row) for row in table.weighted_rows]


def _describe(audit: Audit) -> dict[str, Any]:
    model = audit.model
    return {"name": model.name, "source": model.source, "framework": model.framework}


# --- model vs table ---------------------------------------------------------------------------


def _table_words(model_entry: Entry, row: ExpectedRow) -> Wording:
    subject = model_entry.name if row.layer == model_entry.name else f"{model_entry.name} (your {row.layer})"
    return Wording(subject, "your table expects", "the layer has")


def _table_row(model_entry: Entry, table_entry: Entry) -> DiffRow:
    row, layer = table_entry.row, model_entry.layer
    assert row is not None and layer is not None
    words = _table_words(model_entry, row)
    findings: list[Finding] = []
    if row.kind is not None and row.kind != layer.kind and row.kind != FAMILIES.get(layer.kind):
        findings.append(Finding("kind", f"{words.subject}: your table says a {row.kind} layer but it is a {layer.kind}"))
    if model_entry.params != table_entry.params:
        known = stated_attrs(layer, row.hyper)
        explanation = explain_count(
            layer, model_entry.params, table_entry.params, known, words, model_entry.after_flatten
        )
        findings += explanation.findings
        if explanation.other_count is not None:
            table_entry.formula = explanation.other_count.formula
    covered = {f.code for f in findings}
    findings += [f for f in compare_hyper(layer, row.hyper, words) if f.code not in covered]
    return DiffRow(model_entry, table_entry, RowStatus.DIFFERS if findings else RowStatus.SAME, findings)


def _missing_from_table(entry: Entry) -> DiffRow:
    return DiffRow(
        entry, None, RowStatus.ONLY_LEFT,
        [Finding("missing_layer", f"{entry.name}: the model's {entry.kind} layer has {count_text_of(entry)} but your "
                 f"table has no row for it")],
    )


def _extra_in_table(entry: Entry) -> DiffRow:
    return DiffRow(
        None, entry, RowStatus.ONLY_RIGHT,
        [Finding("extra_layer", f"{entry.name}: your table lists {fmt(entry.params)} parameters for a layer the "
                 f"model does not have (a row too many, or a layer the model lacks)")],
    )


def count_text_of(entry: Entry) -> str:
    layer = entry.layer
    counted = rule_count(layer) if layer is not None else None
    if counted is not None and counted.params == entry.params:
        return count_text(counted)
    return fmt(entry.params)


def diff_expectation(audit: Audit, table: Expectation) -> Diff:
    """The audited model (left) against a hand-written or published table (right)."""
    left, right = model_entries(audit), table_entries(table)
    rows = []
    for m in match(left, right):
        if m.left is not None and m.right is not None:
            rows.append(_table_row(left[m.left], right[m.right]))
            rows[-1].moved = m.moved
        elif m.left is not None:
            rows.append(_missing_from_table(left[m.left]))
        elif m.right is not None:
            rows.append(_extra_in_table(right[m.right]))
    right_total = table.total if table.total is not None else table.rows_sum
    diff = Diff(_describe(audit), {"name": table.name, "source": table.source, "framework": "table"},
                rows, audit.totals.reported, right_total)
    _table_totals(diff, table, audit)
    if table.unused_columns:
        diff.notes.append(f"columns not used: {', '.join(table.unused_columns)}")
    _moved_note(diff)
    return diff


def _table_totals(diff: Diff, table: Expectation, audit: Audit) -> None:
    if table.total is not None and table.total != audit.totals.reported:
        diff.findings.append(
            Finding("total", f"your table's TOTAL is {fmt(table.total)} but the model has {fmt(audit.totals.reported)} "
                    f"parameters ({diff.right_total - diff.left_total:+,})")
        )
    if table.total is not None and table.total != table.rows_sum:
        diff.findings.append(
            Finding("table_total", f"your table's rows add up to {fmt(table.rows_sum)}, not its TOTAL {fmt(table.total)}")
        )


# --- model vs model ---------------------------------------------------------------------------


def _labels(left: Audit, right: Audit) -> tuple[str, str]:
    a, b = left.model.framework, right.model.framework
    return (a, b) if a != b else ("left", "right")


def _pair_words(this: Entry, other: Entry, this_label: str, other_label: str) -> Wording:
    subject = this.name if this.name == other.name else f"{this.name} / {other.name}"
    return Wording(subject, f"{other_label} has", f"{this_label} has", this_label, other_label, table=False)


def _known(this: Layer, other: Layer) -> dict[str, Any]:
    """The other layer's values of this layer's perturbable attributes (same kind only)."""
    rule = get_rule(this.kind)
    if rule is None or this.kind != other.kind:
        return {}
    return {a: other.attrs[a] for a in rule.perturbable if a in other.attrs and a in this.attrs}


def _tied(this: Entry, other: Entry, labels: tuple[str, str]) -> Finding | None:
    """This side counts a tied tensor once (shared use), the other holds its own copy."""
    layer = this.layer
    if layer is None or not layer.shared_params or other.params - this.params != layer.shared_params:
        return None
    owners = sorted({p.shared_with for p in layer.params if p.shared_with})
    return Finding(
        "tied_weights",
        f"{this.name}: {labels[0]} uses the weights of {', '.join(owners)} (tied, counted once there) but "
        f"{labels[1]} holds its own copy of {fmt(layer.shared_params)}: the same weights counted twice",
    )


def _pair_row(left: Entry, right: Entry, labels: tuple[str, str]) -> DiffRow:
    if left.params == right.params:
        return DiffRow(left, right)
    tied = _tied(left, right, labels) or _tied(right, left, labels[::-1])
    if tied is not None:
        return DiffRow(left, right, RowStatus.DIFFERS, [tied])
    findings = _explain_pair(left, right, labels)
    return DiffRow(left, right, RowStatus.DIFFERS, findings)


def _explain_pair(left: Entry, right: Entry, labels: tuple[str, str]) -> list[Finding]:
    """Perturb left toward right's count; if nothing works, right toward left's."""
    first: list[Finding] = []
    for this, other, (a, b) in ((left, right, labels), (right, left, labels[::-1])):
        layer, other_layer = this.layer, other.layer
        if layer is None or other_layer is None:
            continue
        words = _pair_words(this, other, a, b)
        found = explain_count(layer, this.params, other.params, _known(layer, other_layer), words, this.after_flatten)
        if found.explained:
            return found.findings
        first = first or found.findings
    return first


def _only(entry: Entry, labels: tuple[str, str], left_side: bool) -> DiffRow:
    this, other = labels if left_side else labels[::-1]
    code = "missing_layer" if left_side else "extra_layer"
    finding = Finding(code, f"{entry.name}: {this}'s {entry.kind} layer has {count_text_of(entry)} and {other} "
                      f"has no counterpart")
    if left_side:
        return DiffRow(entry, None, RowStatus.ONLY_LEFT, [finding])
    return DiffRow(None, entry, RowStatus.ONLY_RIGHT, [finding])


def diff_audits(left: Audit, right: Audit) -> Diff:
    """Two audited models side by side, aligned by order and kind with gaps allowed."""
    labels = _labels(left, right)
    a, b = model_entries(left), model_entries(right)
    rows = []
    for m in match(a, b):
        if m.left is not None and m.right is not None:
            rows.append(_pair_row(a[m.left], b[m.right], labels))
            rows[-1].moved = m.moved
        elif m.left is not None:
            rows.append(_only(a[m.left], labels, True))
        elif m.right is not None:
            rows.append(_only(b[m.right], labels, False))
    rows = [row for row in rows if _counts(row)]
    diff = Diff(_describe(left), _describe(right), rows, left.totals.reported, right.totals.reported)
    _fold_pass(diff, labels)
    _tied_pass(diff, left, right, labels)
    _moved_note(diff)
    return diff


def _moved_note(diff: Diff) -> None:
    """Say once why some rows are listed out of order."""
    moved = sum(row.moved for row in diff.rows)
    if moved:
        diff.notes.append(
            f"{moved} row{'s' if moved > 1 else ''} marked moved: the two sides list {'these layers' if moved > 1 else 'this layer'} "
            f"in a different order (parallel branches, e.g. a residual shortcut or an Inception branch, in another "
            f"valid order); paired by kind and count, or as one layer with one attribute changed; the order "
            f"alone is not a difference"
        )


def _counts(row: DiffRow) -> bool:
    """Keep a one-sided row only when it owns something (a tied second use alone is not a layer)."""
    if row.left is not None and row.right is not None:
        return True
    entry = row.left or row.right
    layer = entry.layer if entry is not None else None
    return entry is not None and (entry.params > 0 or (layer is not None and layer.reported_buffers > 0))


# --- framework conventions seen across rows ---------------------------------------------------


def _fold_pass(diff: Diff, labels: tuple[str, str]) -> None:
    """A BatchNorm present on one side only, right after a conv the ONNX side gave a bias: folded."""
    for index, row in enumerate(diff.rows):
        if row.status not in (RowStatus.ONLY_LEFT, RowStatus.ONLY_RIGHT) or index == 0:
            continue
        left_side = row.status == RowStatus.ONLY_LEFT
        bn = row.left if left_side else row.right
        folded_framework = (diff.right if left_side else diff.left).get("framework")
        conv_row = diff.rows[index - 1]
        if bn is None or bn.kind != "batch_norm" or folded_framework != "onnx" or conv_row.left is None \
                or conv_row.right is None:
            continue
        mine, theirs = (conv_row.left, conv_row.right) if left_side else (conv_row.right, conv_row.left)
        channels = bn.layer.attrs.get("num_features") if bn.layer is not None else None
        if FAMILIES.get(mine.kind or "") != "conv" or theirs.params - mine.params not in (0, channels):
            continue
        this, other = labels if left_side else labels[::-1]
        row.findings = [Finding(
            "bn_folded",
            f"{bn.name}: {this} has a BatchNorm ({count_text_of(bn)}) that {other} does not: the ONNX exporter "
            f"folded it into {mine.name} (scale into the weights, shift into the bias); not a lost layer",
        )]
        if theirs.params != mine.params:
            conv_row.findings = [Finding(
                "bn_folded",
                f"{mine.name}: {other} has {count_text_of(theirs)} but {this} has {count_text_of(mine)}: the "
                f"BatchNorm after it ({bn.name}) was folded into this conv, which gained a bias of {channels}",
            )]


def _tied_pass(diff: Diff, left: Audit, right: Audit, labels: tuple[str, str]) -> None:
    """A one-sided layer holding exactly the elements the other side shares: a duplicated tied tensor."""
    shared = {
        "left": _shared_tensors(left),
        "right": _shared_tensors(right),
    }
    for row in diff.rows:
        if row.status not in (RowStatus.ONLY_LEFT, RowStatus.ONLY_RIGHT):
            continue
        left_side = row.status == RowStatus.ONLY_LEFT
        entry = row.left if left_side else row.right
        other_shared = shared["right" if left_side else "left"]
        if entry is None or entry.params not in other_shared:
            continue
        this, other = labels if left_side else labels[::-1]
        user, owner = other_shared[entry.params]
        row.findings = [Finding(
            "tied_weights",
            f"{entry.name}: {this} holds a separate copy of {fmt(entry.params)} parameters that {other} ties "
            f"({user} uses the weights of {owner}, counted once): the export duplicated the tied weights",
        )]


def _shared_tensors(audit: Audit) -> dict[int, tuple[str, str]]:
    """numel -> (user path, owner path) for each tied second use in the model."""
    out: dict[int, tuple[str, str]] = {}
    for layer in audit.model.layers:
        for p in layer.params:
            if p.shared_with is not None:
                out.setdefault(p.numel, (layer.path, p.shared_with))
    return out


__all__ = [
    "Diff", "DiffRow", "Entry", "Match", "RowStatus", "SCHEMA", "align", "convention_free", "diff_audits",
    "diff_expectation", "match", "same_count",
]
