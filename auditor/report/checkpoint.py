"""Render a checkpoint-vs-architecture `Comparison`: the architecture's audit, then the reconciliation
(architecture total + each finding's amount = checkpoint total).  Rendering only."""

from __future__ import annotations

import json
from typing import Any

from auditor.checkpoint import Comparison
from auditor.report.audit import audit_to_dict, render_audit
from auditor.report.common import bytes_text, check_format
from auditor.report.reconciliation import reconciliation_lines, reconciliation_to_dict

SCHEMA = "nn-auditor/checkpoint@1"


def render_comparison(result: Comparison, fmt: str = "table", depth: int = 0) -> str:
    check_format(fmt)
    if fmt == "json":
        return json.dumps(comparison_to_dict(result), indent=2) + "\n"
    if fmt == "csv":
        return _csv(result)
    if fmt == "html":
        return _html(result, depth)
    markdown = fmt == "markdown"
    text = render_audit(result.architecture, "markdown" if markdown else "table", depth=depth)
    return text + "\n" + "\n".join(_section(result, markdown)) + "\n"


def comparison_to_dict(result: Comparison) -> dict[str, Any]:
    ckpt = result.checkpoint
    return {
        "schema": SCHEMA,
        "architecture": audit_to_dict(result.architecture),
        "checkpoint": {
            "source": ckpt.model.source, "framework": ckpt.model.framework, "tensors": len(ckpt.model.tensors),
            "parameters": ckpt.totals.reported, "buffers": ckpt.totals.buffers,
            "stored_elements": ckpt.totals.stored_elements, "param_bytes": ckpt.totals.param_bytes,
            "bytes_by_dtype": dict(sorted(ckpt.totals.bytes_by_dtype.items())), "notes": list(ckpt.model.notes),
        },
        "differs": result.differs,
        "prefixes": {"architecture": result.prefixes[0], "checkpoint": result.prefixes[1]},
        "totals": {"architecture": result.expected_total, "checkpoint": result.stored_total, "delta": result.delta,
                   "explained": result.explained, "unexplained": result.unexplained},
        "findings": [{"code": f.code, "message": f.message, "amount": f.amount} for f in result.findings],
        "tensors": [_row_dict(r) for r in result.rows],
        "reconciliation": reconciliation_to_dict(result.reconciliation),
    }


def _row_dict(row: Any) -> dict[str, Any]:
    def side(t: Any) -> dict[str, Any] | None:
        if t is None:
            return None
        return {"shape": list(t.shape), "dtype": t.dtype, "numel": t.numel, "bytes": t.nbytes,
                "packing": t.packing.formula if t.packing else None, "shared_with": t.shared_with}

    return {"name": row.name, "status": row.status, "architecture": side(row.expected), "checkpoint": side(row.stored)}


def _section(result: Comparison, markdown: bool) -> list[str]:
    ckpt = result.checkpoint
    head = "### Checkpoint vs architecture" if markdown else "Checkpoint vs architecture:"
    bullet = "- " if markdown else ""
    counts = {s: sum(r.status == s for r in result.rows) for s in ("match", "shape", "missing", "unexpected", "tied")}
    lines = ["", head,
             f"{bullet}checkpoint: {ckpt.model.source} ({ckpt.model.framework}, {len(ckpt.model.tensors):,} tensors, "
             f"{bytes_text(ckpt.totals.param_bytes)} stored)",
             f"{bullet}tensors: {counts['match']:,} match, {counts['shape']:,} of another shape, {counts['missing']:,} "
             f"missing, {counts['unexpected']:,} unexpected, {counts['tied']:,} tied (stored once)"]
    if any(result.prefixes):
        lines.append(f"{bullet}names lined up by dropping {result.prefixes[0]!r} (architecture) / "
                     f"{result.prefixes[1]!r} (checkpoint)")
    lines += reconciliation_lines(result.reconciliation, markdown)
    verdict = ("the checkpoint does not load cleanly into this architecture" if result.differs
               else "the checkpoint loads into this architecture (differences above are harmless)")
    lines.append(f"{bullet}{verdict}")
    return lines


def _html(result: Comparison, depth: int) -> str:
    from auditor.report.html import audit_section, page, toolbar
    from auditor.report.html_diff import reconciliation_section

    body = (toolbar() + audit_section(result.architecture, depth)
            + reconciliation_section(reconciliation_to_dict(result.reconciliation)))
    return page(f"nn-auditor: {result.architecture.model.name} vs {result.checkpoint.model.source}", body)


def _csv(result: Comparison) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "status", "architecture_shape", "checkpoint_shape", "checkpoint_dtype", "checkpoint_bytes"])
    for r in result.rows:
        writer.writerow([r.name, r.status, _shape(r.expected), _shape(r.stored), r.stored.dtype if r.stored else "",
                         r.stored.nbytes if r.stored else ""])
    return out.getvalue()


def _shape(t: Any) -> str:
    return "x".join(str(d) for d in t.shape) if t is not None else ""
