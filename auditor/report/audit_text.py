"""An `Audit` as people read it: the table of layers (text or Markdown) and the summary under it
(totals, MACs, memory, findings, unverified layers, notes).  Rendering only."""

from __future__ import annotations

from typing import Any

from auditor.count import Audit, LayerCheck, bytes_per_element
from auditor.folded import FoldedRow, fold_checks
from auditor.report.common import (
    activation_gap,
    activation_unknown,
    bytes_text,
    count_text,
    macs_gap,
    macs_unknown,
    shape_text,
    si_text,
    unknown_shapes,
)


def metric_columns(audit: Audit) -> list[str]:
    """The extra per-layer figures rules report (LeNet's "connections"), one column each, first seen first."""
    names: list[str] = []
    for c in audit.checks:
        names.extend(m for m in c.metrics if m not in names)
    return names


def _drop_batch(audit: Audit) -> bool:
    """Show per-sample shapes (as people write them) when every model input has the same leading dim."""
    leading = {s[0] for s in audit.model.input_shapes if len(s) > 1}
    return len(leading) == 1


def audit_text(audit: Audit, markdown: bool, depth: int) -> str:
    """The table of layers (folded to `depth` path levels), then the summary, findings and notes."""
    from tabulate import tabulate

    drop = _drop_batch(audit)
    metric_names = metric_columns(audit)
    headers = ["layer", "kind", "output" if not drop else "output (per sample)", "params", "analytic",
               "formula", "MACs", "status", *metric_names]
    rows = [_row(r, drop, metric_names) for r in fold_checks(audit, depth)]
    table = tabulate(rows, headers=headers, tablefmt="github" if markdown else "simple",
                     colalign=("left", "left", "left", "right", "right", "left", "right", "left",
                               *["right"] * len(metric_names)), disable_numparse=True)
    title = f"{audit.model.name} ({audit.model.framework}, {audit.model.source})"
    parts = [f"## {title}" if markdown else title, "", table, "", *_summary(audit, markdown)]
    return "\n".join(parts).rstrip() + "\n"


def _row(row: FoldedRow, drop_batch: bool, metric_names: list[str]) -> list[str]:
    last = row.checks[-1]
    formula = row.checks[0].formula if len(row.checks) == 1 else ""
    return [
        row.path,
        row.kind,
        shape_text(last.output_shape, drop_batch),
        count_text(row.reported),
        count_text(row.analytic),
        "" if formula in (None, "0") else formula,
        count_text(row.macs),
        str(row.status),
        *[count_text(sum(c.metrics.get(m, 0) for c in row.checks)) if any(m in c.metrics for c in row.checks)
          else "" for m in metric_names],
    ]


def _tensor_list(audit: Audit, shown: int = 5) -> str:
    """"a (6x6), b (10)" for the first `shown` unattributed tensors, and how many more."""
    tensors = audit.model.unattributed
    names = ", ".join(f"{t.name} ({'x'.join(map(str, t.shape)) or 'scalar'})" for t in tensors[:shown])
    return names + (f" and {len(tensors) - shown} more" if len(tensors) > shown else "")


def _summary(audit: Audit, markdown: bool) -> list[str]:
    t = audit.totals
    bullet = "- " if markdown else ""
    element_bytes = bytes_per_element(audit.model)
    lines = [
        f"{bullet}Total params: {t.reported:,} (analytic {t.analytic:,}"
        + (f", unverified {t.unverified:,}" if t.unverified else "") + ")",
        f"{bullet}Trainable: {t.trainable:,}   Non-trainable: {t.non_trainable:,}   Buffers: {t.buffers:,}"
        + (f"   Shared (tied, counted once): {t.shared:,}" if t.shared else ""),
    ]
    if t.quantization:
        lines.append(f"{bullet}Quantization metadata (scales, zero points; not parameters): {t.quantization:,}")
    if t.unattributed:
        lines.append(f"{bullet}Unattributed (consumed, owned by no layer): {t.unattributed:,} in "
                     f"{_tensor_list(audit)}")
    if audit.model.framework_total is not None:
        lines.append(f"{bullet}{audit.model.framework} says: {audit.model.framework_total:,}")
    if t.active != t.reported:
        lines.append(f"{bullet}Active per token: {t.active:,} (mixture of experts: only the routed experts run)")
    if t.adapter_params:
        adapter_trainable = sum(c.layer.reported_trainable for c in audit.checks if c.layer.adapter)
        lines.append(f"{bullet}Adapters: {t.adapter_params:,} ({adapter_trainable:,} trainable)   "
                     f"Base model: {t.reported - t.adapter_params:,} ({t.trainable - adapter_trainable:,} trainable)")
    if t.masked:
        lines.append(f"{bullet}Pruned: {t.pruned:,} of {t.masked:,} masked weights are zero "
                     f"({100 * t.pruned / t.masked:.1f}% sparsity)")
    lines += [
        f"{bullet}Verified by a rule: {100 * t.verified_fraction:.1f}% of parameters; "
        f"{t.mismatches} mismatched, {t.unverified_layers} unverified of {t.layers} layers",
        f"{bullet}{_macs_line(audit)}",
        f"{bullet}Parameter memory: {t.param_bytes:,} bytes ({bytes_text(t.param_bytes)})" + _by_dtype(t),
        *([f"{bullet}{line}"] if (line := _stored_line(audit)) else []),
        f"{bullet}{_activation_line(audit, element_bytes)}",
        f"{bullet}Convention: {audit.convention}",
    ]
    findings = [f for c in audit.checks for f in c.findings] + list(audit.findings)
    if findings:
        lines += ["", "Findings:" if not markdown else "### Findings"]
        lines += [f"- [{f.code}] {f.message}" for f in findings]
    unverified = [c for c in audit.checks if c.note and str(c.status) == "unverified"]
    if unverified:
        lines += ["", "Unverified:" if not markdown else "### Unverified"]
        lines += _unverified_lines(unverified)
    packings = _packing_lines(audit)
    if packings:
        lines += ["", "Quantized tensors (logical count from the packing):" if not markdown else "### Quantized tensors"]
        lines += packings
    if audit.model.notes:
        lines += ["", "Notes:" if not markdown else "### Notes"]
        lines += [f"- {n}" for n in audit.model.notes]
    if audit.model.caveats:
        lines += ["", "Not checked (--strict fails):" if not markdown else "### Not checked (--strict fails)"]
        lines += [f"- {n}" for n in audit.model.caveats]
    return lines


def _macs_line(audit: Audit) -> str:
    t = audit.totals
    per_sample = " per sample" if t.macs_per_sample else ""
    if macs_unknown(audit):
        return f"MACs{per_sample}: {unknown_shapes(audit)}   FLOPs: unknown"
    return (f"MACs{per_sample}: {t.macs:,} ({si_text(t.macs)})"
            + ("" if t.macs_complete else f" (incomplete: {macs_gap(audit)})") + f"   FLOPs: {si_text(2 * t.macs)}")


def _activation_line(audit: Audit, element_bytes: int) -> str:
    t = audit.totals
    if activation_unknown(audit):
        return f"Activation memory (one forward pass): {unknown_shapes(audit)}"
    return (f"Activation memory (one forward pass): {t.activation_elements:,} values "
            f"({bytes_text(t.activation_elements * element_bytes)} at {element_bytes} bytes each){activation_gap(audit)}")


def _by_dtype(t: Any) -> str:
    """": bfloat16 13.5 GiB, float32 8.0 KiB" when the tensors are stored in more than one dtype."""
    if len(t.bytes_by_dtype) < 2:
        return ""
    ranked = sorted(t.bytes_by_dtype.items(), key=lambda item: -item[1])
    return ": " + ", ".join(f"{dtype} {bytes_text(n)}" for dtype, n in ranked)


def _stored_line(audit: Audit) -> str:
    """Stored elements next to the logical count, when packing or quantization state makes them differ."""
    t = audit.totals
    if t.stored_elements == t.reported + t.buffers:
        return ""
    return (f"Stored elements: {t.stored_elements:,} (the {t.reported + t.buffers:,} logical elements as packed, "
            "plus quantization state)")


def _unverified_lines(checks: list[LayerCheck]) -> list[str]:
    """One line per distinct note; layers sharing a note (a checkpoint's inferred layers) are listed together."""
    groups: dict[str, list[LayerCheck]] = {}
    for c in checks:
        groups.setdefault(c.note or "", []).append(c)
    lines = []
    for note, members in groups.items():
        params = sum(c.reported for c in members)
        count = f" ({params:,} params)" if params else ""
        if len(members) == 1:
            lines.append(f"- {members[0].path}: {note}{count}")
        else:
            shown = ", ".join(c.path for c in members[:3]) + (", ..." if len(members) > 3 else "")
            lines.append(f"- {len(members)} layers ({shown}): {note}{count}")
    return lines


def _packing_lines(audit: Audit) -> list[str]:
    """Each distinct packing formula once, with how many tensors it applies to."""
    formulas: dict[str, int] = {}
    for c in audit.checks:
        for p in c.layer.params:
            if p.packing is not None and p.shared_with is None:
                formulas[p.packing.formula] = formulas.get(p.packing.formula, 0) + 1
    return [f"- {n} x {formula}" if n > 1 else f"- {formula}" for formula, n in formulas.items()]
