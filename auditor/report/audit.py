"""Render an `Audit` as JSON (schema nn-auditor/report@1), CSV, a table or Markdown (`audit_text`), or HTML.
Rendering only."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from auditor.count import Audit, LayerCheck, bytes_per_element
from auditor.report.audit_text import audit_text, metric_columns
from auditor.report.common import (
    activation_unknown,
    check_format,
    macs_gap,
    macs_unknown,
    shape_json,
    shape_text,
)
from auditor.report.memory import memory_csv, memory_text, memory_to_dict

if TYPE_CHECKING:  # the claim's modules load only for --claim (they import the memory formulas)
    from auditor.claim import ClaimCheck

SCHEMA = "nn-auditor/report@1"


def render_audit(audit: Audit, fmt: str = "table", depth: int = 0, model_column: bool = False,
                 claim: ClaimCheck | None = None) -> str:
    """The whole report in `fmt`; `depth` folds layers under their first N path components;
    `model_column` starts every CSV row with the model's source (CSV blocks of a batch); `claim` adds
    what a headline figure's check found (text, markdown, JSON)."""
    check_format(fmt)
    if fmt == "json":
        return json.dumps(audit_to_dict(audit, claim), indent=2) + "\n"
    if fmt == "csv":
        return _csv(audit, model_column) + ("\n" + memory_csv(audit.memory) if audit.memory else "")
    if fmt == "html":
        from auditor.report.html import render_audit_html

        return render_audit_html(audit, depth)
    text = audit_text(audit, markdown=fmt == "markdown", depth=depth)
    if audit.memory is not None:
        text += "\n".join(memory_text(audit.memory, markdown=fmt == "markdown")).rstrip() + "\n"
    if claim is not None:
        from auditor.report.claim import claim_lines

        text += "\n".join(claim_lines(claim, audit, markdown=fmt == "markdown")) + "\n"
    return text


def audit_to_dict(audit: Audit, claim: ClaimCheck | None = None) -> dict[str, Any]:
    """The JSON document: exact integers, full shapes (batch included), every finding (and the claim's check)."""
    totals = audit.totals
    element_bytes = bytes_per_element(audit.model)
    memory = {"memory": memory_to_dict(audit.memory)} if audit.memory is not None else {}
    if claim is not None:
        from auditor.report.claim import claim_to_dict

        memory["claim"] = claim_to_dict(claim, audit)

    macs = None if macs_unknown(audit) else totals.macs
    activations = None if activation_unknown(audit) else totals.activation_elements

    return {
        "schema": SCHEMA,
        "model": {"name": audit.model.name, "framework": audit.model.framework, "source": audit.model.source,
                  "metadata": _json_safe(audit.model.metadata)},
        "convention": audit.convention,
        "consistent": audit.consistent,
        "totals": {
            "reported": totals.reported,
            "analytic": totals.analytic,
            "unverified": totals.unverified,
            "verified_fraction": round(totals.verified_fraction, 6),
            "framework_total": audit.model.framework_total,
            "trainable": totals.trainable,
            "non_trainable": totals.non_trainable,
            "buffers": totals.buffers,
            "shared": totals.shared,
            "active": totals.active,
            "macs": macs,
            "macs_complete": totals.macs_complete and totals.shapes_known,
            "macs_per_sample": totals.macs_per_sample,
            "flops": None if macs is None else 2 * macs,
            "shapes_known": totals.shapes_known,
            "param_bytes": totals.param_bytes,
            "stored_elements": totals.stored_elements,
            "activation_elements": activations,
            "activation_bytes": None if activations is None else activations * element_bytes,
            "activation_complete": activations is not None and totals.activation_unknown_layers == 0,
            "layers": totals.layers,
            "mismatches": totals.mismatches,
            "unverified_layers": totals.unverified_layers,
            "unattributed": totals.unattributed,
            "quantization_metadata": totals.quantization,
            "unused_layers": totals.unused_layers,
            "adapter_params": totals.adapter_params,
            "pruned": totals.pruned,
            "masked": totals.masked,
        },
        "bytes_by_dtype": dict(sorted(totals.bytes_by_dtype.items())),
        "layers": [_layer_dict(c) for c in audit.checks],
        "findings": [{"code": f.code, "message": f.message} for f in audit.findings],
        "macs_incomplete": None if totals.macs_complete else macs_gap(audit),
        "notes": list(audit.model.notes),
        **memory,
        "unattributed": [
            {"name": t.name, "shape": list(t.shape), "elements": t.numel, "dtype": t.dtype, "used_by": list(t.used_by)}
            for t in audit.model.unattributed
        ],
        "caveats": list(audit.model.caveats),
    }


def _layer_dict(check: LayerCheck) -> dict[str, Any]:
    layer = check.layer
    return {
        "path": check.path,
        "kind": check.kind,
        "source_type": layer.source_type,
        "input_shapes": [shape_json(s) for s in layer.input_shapes],
        "output_shape": shape_json(layer.output_shapes[0] if layer.output_shapes else None),
        "analytic_output_shape": shape_json(check.analytic_output_shape),
        "reported": check.reported,
        "trainable": layer.reported_trainable,
        "buffers": layer.reported_buffers,
        "quantization_metadata": layer.reported_quantization,
        "shared": [{"name": p.name, "numel": p.numel, "shared_with": p.shared_with}
                   for p in layer.params if p.shared_with],
        "analytic": check.analytic,
        "analytic_buffers": check.analytic_buffers,
        "formula": check.formula,
        "macs": check.macs,
        "status": str(check.status),
        "findings": [{"code": f.code, "message": f.message} for f in check.findings],
        "note": check.note,
        "metrics": dict(check.metrics),
        "param_bytes": sum(p.nbytes for p in layer.params if p.shared_with is None),
        "packing": [p.packing.formula for p in layer.params if p.packing is not None],
        "inferred": layer.inferred or None,
        "unused": layer.called is False,
        "adapter": layer.adapter,
    }


def _json_safe(value: Any) -> Any:
    """Metadata as JSON: containers kept, anything else (numpy scalars, enums) as int/float/str."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _csv(audit: Audit, model_column: bool = False) -> str:
    out = io.StringIO()
    writer: Any = csv.writer(out, lineterminator="\n")
    if model_column:
        writer = _Prefixed(writer, "model", audit.model.source)
    metric_names = metric_columns(audit)
    writer.writerow(["path", "kind", "source_type", "output_shape", "reported", "analytic", "formula", "macs",
                     "status", "findings", *metric_names])
    for c in audit.checks:
        writer.writerow([
            c.path, c.kind, c.layer.source_type, shape_text(c.output_shape), c.reported,
            "" if c.analytic is None else c.analytic, c.formula or "", "" if c.macs is None else c.macs,
            str(c.status), "; ".join(f.message for f in c.findings) or (c.note or ""),
            *[c.metrics.get(m, "") for m in metric_names],
        ])
    t = audit.totals
    writer.writerow(["TOTAL", "", "", "", t.reported, t.analytic, "", t.macs if t.shapes_known else "", "", "",
                     *["" for _ in metric_names]])
    return out.getvalue()


class _Prefixed:
    """A csv writer whose rows all start with one more column (its header row with the column's name)."""

    def __init__(self, writer: Any, header: str, value: str) -> None:
        self.writer, self.first, self.value = writer, header, value

    def writerow(self, row: list[Any]) -> None:
        self.writer.writerow([self.first, *row])
        self.first = self.value
