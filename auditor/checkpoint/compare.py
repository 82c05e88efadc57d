"""A checkpoint against the architecture it should load into: every tensor paired by name, every
difference a finding whose signed `amount` (checkpoint minus architecture, in elements) adds up to
the whole delta.

The architecture's side is its state dict: parameters (a tied weight once) and persistent buffers.
The checkpoint's side is its tensors' logical elements (a packed 4-bit weight counts every weight;
quantization state such as scales is listed, not counted).  Shape differences are explained with the
same perturbation search the diff uses ("vocab 32,000 in the config, 32,001 in the checkpoint").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.checkpoint.names import best_prefixes, pattern, strip
from auditor.count import Audit, used_params
from auditor.explain import perturbations
from auditor.findings import Finding
from auditor.ir import Layer, ModelIR, ParamTensor
from auditor.reconcile import Reconciliation, reconcile
from auditor.rules import fmt

BENIGN = frozenset({"saved_buffer", "tied_stored_twice", "dtype", "quantization_state"})
"""Codes of differences that still load into the architecture (transformers ignores or re-ties them)."""


@dataclass(frozen=True)
class TensorRow:
    """One name on either side: `status` match | shape | missing | unexpected | tied | state."""

    name: str
    status: str
    expected: ParamTensor | None = None
    stored: ParamTensor | None = None


@dataclass
class Comparison:
    architecture: Audit
    checkpoint: Audit
    rows: list[TensorRow]
    findings: list[Finding] = field(default_factory=list)
    prefixes: tuple[str, str] = ("", "")
    expected_total: int = 0
    """Architecture: elements of its state dict (parameters, a tied tensor once, persistent buffers)."""
    stored_total: int = 0
    """Checkpoint: logical elements of its tensors (each stored tensor once, quantization state excluded)."""

    @property
    def delta(self) -> int:
        return self.stored_total - self.expected_total

    @property
    def reconciliation(self) -> Reconciliation:
        """architecture total + every finding's amount = checkpoint total (each finding one cause)."""
        return reconcile([], self.findings, ("architecture", self.expected_total), ("checkpoint", self.stored_total))

    @property
    def explained(self) -> int:
        return self.reconciliation.explained

    @property
    def unexplained(self) -> int:
        return self.delta - self.explained

    @property
    def differs(self) -> bool:
        """The checkpoint does not load cleanly: a tensor missing, unexpected or of another shape."""
        return not self.reconciliation.equivalent


def compare(architecture: Audit, checkpoint: Audit) -> Comparison:
    """Pair the architecture's state-dict tensors with the checkpoint's by name and explain the delta."""
    expected = {n: t for n, t in architecture.model.tensors.items() if t.persistent}
    stored_all = checkpoint.model.tensors
    stored = {n: t for n, t in stored_all.items() if not t.quant_state}
    prefixes = best_prefixes(expected, stored)
    by_key = {strip(n, prefixes[1]): n for n in stored}
    result = Comparison(architecture, checkpoint, [], prefixes=prefixes,
                        expected_total=sum(t.numel for t in expected.values() if t.shared_with is None),
                        stored_total=sum(t.numel for t in stored.values() if t.shared_with is None))
    seen: set[str] = set()
    for name, want in expected.items():
        found_name = by_key.get(strip(name, prefixes[0]))
        if found_name is not None:
            seen.add(found_name)
        result.rows.append(_row(name, want, stored.get(found_name) if found_name else None, expected, by_key,
                                prefixes))
    result.rows += [TensorRow(n, "unexpected", stored=t) for n, t in stored.items() if n not in seen]
    result.rows += [TensorRow(n, "state", stored=t) for n, t in stored_all.items() if t.quant_state]
    result.findings = _findings(result, architecture.model, checkpoint.model)
    return result


def _row(name: str, want: ParamTensor, got: ParamTensor | None, expected: dict[str, ParamTensor],
         by_key: dict[str, str], prefixes: tuple[str, str]) -> TensorRow:
    if got is None:
        owner = _tie_owner(name, want, expected)
        stored_owner = owner is not None and strip(owner, prefixes[0]) in by_key
        return TensorRow(name, "tied" if stored_owner else "missing", want)
    same = got.shape == want.shape or (got.packing is not None and got.numel == want.numel)
    return TensorRow(name, "match" if same else "shape", want, got)


def _tie_owner(name: str, t: ParamTensor, expected: dict[str, ParamTensor]) -> str | None:
    """The full name of the tensor a tied second name shares (same leaf under the owning module)."""
    if t.shared_with is None:
        return None
    owner = f"{t.shared_with}.{name.rsplit('.', 1)[-1]}"
    return owner if owner in expected else None


# ---- findings -------------------------------------------------------------------------------------


def _findings(result: Comparison, arch: ModelIR, ckpt: ModelIR) -> list[Finding]:
    rows = result.rows
    findings = _grouped(rows, "unexpected", lambda r: _unexpected_code(r, arch), lambda r: r.stored.numel)
    findings += _grouped(rows, "missing", lambda r: "missing_tensor", lambda r: -r.expected.numel)
    findings += _tie_findings(rows, result.prefixes)
    findings += _shape_findings(rows, arch)
    findings += _state_findings(rows)
    findings += _dtype_findings(rows)
    return findings


def _unexpected_code(row: TensorRow, arch: ModelIR) -> str:
    leaf = row.name.rsplit(".", 1)[-1]
    dropped = any(not t.persistent and n.rsplit(".", 1)[-1] == leaf for n, t in arch.tensors.items())
    return "saved_buffer" if dropped or (row.stored is not None and row.stored.buffer) else "unexpected_tensor"


WHAT = {
    "saved_buffer": "buffers the checkpoint saved but the architecture does not keep in its state dict",
    "unexpected_tensor": "tensors the architecture does not have",
    "missing_tensor": "tensors the architecture expects but the checkpoint lacks",
}


def _grouped(rows: list[TensorRow], status: str, code_of: Any, amount_of: Any) -> list[Finding]:
    """One finding per (code, name pattern, shape): "+2,048 = 32 x ...inv_freq (64 each)"."""
    groups: dict[tuple[str, str, tuple[int, ...]], list[TensorRow]] = defaultdict(list)
    for row in rows:
        if row.status == status:
            tensor = row.stored if status == "unexpected" else row.expected
            if tensor is not None and tensor.shared_with is None:
                groups[(code_of(row), pattern(row.name), tensor.shape)].append(row)
    findings = []
    for (code, name, shape), members in groups.items():
        amount = sum(amount_of(r) for r in members)
        if len(members) == 1:
            name, each, count = members[0].name, f" ({_dims(shape)})", ""
        else:
            size = fmt(abs(amount_of(members[0])))
            each = f" ({size} each)" if len(shape) == 1 else f" ({size} each, {_dims(shape)})"
            count = f"{len(members)} x "
        why = WHAT[code] + (_buffer_hint(name) if code == "saved_buffer" else "")
        findings.append(_finding(code, amount, f"{count}{name}{each}: {why}"))
    return findings


def _buffer_hint(name: str) -> str:
    if name.endswith("inv_freq"):
        return " (rotary inverse frequencies: transformers recomputes them; older versions saved one per layer)"
    return " (loading ignores them)"


def _tie_findings(rows: list[TensorRow], prefixes: tuple[str, str]) -> list[Finding]:
    """A weight the architecture ties, stored twice; or one it keeps twice, stored once."""
    findings = []
    for row in rows:
        want, got = row.expected, row.stored
        if want is None or got is None:
            continue
        if want.shared_with is not None and got.shared_with is None:
            findings.append(_finding("tied_stored_twice", got.numel, f"{row.name}: tied to {want.shared_with} in the "
                                     "architecture but stored as its own copy"))
        elif want.shared_with is None and got.shared_with is not None:
            findings.append(_finding("tied_weights", -got.numel, f"{row.name}: stored as the same data as "
                                     f"{got.shared_with}, but the architecture keeps its own tensor "
                                     "(is tie_word_embeddings set?)"))
    return findings


def _shape_findings(rows: list[TensorRow], arch: ModelIR) -> list[Finding]:
    """Shape differences, per architecture layer, explained by the attribute that reproduces them."""
    by_layer: dict[str, list[TensorRow]] = defaultdict(list)
    for row in rows:
        if row.status == "shape":
            by_layer[_owning_layer(row.name, arch)].append(row)
    findings = []
    for path, members in by_layer.items():
        amount = sum(r.stored.numel - r.expected.numel for r in members if r.stored and r.expected)
        shapes = "; ".join(f"{r.name} {_dims(r.expected.shape)} in the config, {_dims(r.stored.shape)} in the "
                           "checkpoint" for r in members if r.stored and r.expected)
        code, why = _explain_shapes(path, members, arch)
        findings.append(_finding(code, amount, shapes + (f": {why}" if why else "")))
    return findings


def _owning_layer(name: str, arch: ModelIR) -> str:
    """The architecture layer whose path is the longest prefix of a tensor name ("" when none)."""
    best = ""
    for layer in arch.layers:
        if name.startswith(layer.path + ".") and len(layer.path) > len(best):
            best = layer.path
    return best


def _explain_shapes(path: str, rows: list[TensorRow], arch: ModelIR) -> tuple[str, str]:
    layer = next((candidate for candidate in arch.layers if candidate.path == path), None)
    if layer is None:
        return "shape", ""
    target = used_params(layer) + sum(r.stored.numel - r.expected.numel for r in rows if r.stored and r.expected)
    found = perturbations(_without_shapes(layer), target, {})
    if not found:
        return "shape", f"no single change of {layer.kind} {path}'s attributes reproduces it"
    (attr, new), *_ = found[0].changes.items()
    old = layer.attrs.get(attr)
    return attr, f"{_attr_words(attr, old, arch)} {_value(old)} in the config, {_value(new)} in the checkpoint ({attr} of {path})"


def _without_shapes(layer: Layer) -> Layer:
    return replace(layer, input_shapes=[], output_shapes=[])


def _attr_words(attr: str, old: Any, arch: ModelIR) -> str:
    vocab = arch.metadata.get("vocab_size")
    if attr in ("num_embeddings", "out_features", "in_features") and old == vocab:
        return "vocab"
    return attr.replace("_", " ")


def _state_findings(rows: list[TensorRow]) -> list[Finding]:
    state = [(r.name, r.stored) for r in rows if r.status == "state" and r.stored is not None]
    if not state:
        return []
    elements = sum(t.stored_numel for _, t in state)
    layers = len({name.rsplit(".", 1)[0] for name, _ in state})
    kinds = ", ".join(sorted({name.rsplit(".", 1)[-1] for name, _ in state})[:6])
    what = (f"{fmt(elements)} stored elements of quantization state ({kinds}) in {layers} layers: not parameters, "
            "not counted")
    return [Finding("quantization_state", what, 0, what, True)]


def _dtype_findings(rows: list[TensorRow]) -> list[Finding]:
    """Tensors stored in another dtype than the architecture builds, per (built, stored) pair."""
    pairs: dict[tuple[str, str], list[TensorRow]] = defaultdict(list)
    for row in rows:
        if row.expected is not None and row.stored is not None and row.stored.dtype != row.expected.dtype:
            pairs[(row.expected.dtype, row.stored.dtype)].append(row)
    findings = []
    for (built, stored), members in pairs.items():
        what = f"{len(members)} tensor(s) stored as {stored}, built as {built} (e.g. {members[0].name}); counts are unaffected"
        findings.append(Finding("dtype", what, 0, what, True))
    return findings


def _finding(code: str, amount: int, what: str) -> Finding:
    """"+2,048 = 32 x ...inv_freq (64 each): why", its cause the part after the amount."""
    return Finding(code, f"{_signed(amount)} = {what}", amount, what, code in BENIGN)


def _signed(n: int) -> str:
    return f"+{fmt(n)}" if n >= 0 else f"-{fmt(-n)}"


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(fmt(d) for d in shape) or "scalar"


def _value(value: Any) -> str:
    return fmt(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)
