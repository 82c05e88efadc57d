"""Render a memory budget: its items (name, bytes, formula), the total, per-layer rows, what is left out."""

from __future__ import annotations

import csv
import io
from typing import Any

from auditor.memory import MemoryBudget
from auditor.report.common import bytes_text


def memory_to_dict(budget: MemoryBudget) -> dict[str, Any]:
    """JSON: `items[{name, bytes, formula}]` and `total_bytes` (exact integers), plus the details."""
    return {
        "mode": budget.mode,
        "options": dict(budget.options),
        "items": [{"name": i.name, "bytes": i.bytes, "formula": i.formula, "complete": i.complete}
                  for i in budget.items],
        "total_bytes": budget.total_bytes,
        "complete": budget.complete,
        "layers": [{"path": r.path, "kind": r.kind, "bytes": r.bytes, "formula": r.formula} for r in budget.layers],
        "notes": list(budget.notes),
        "not_included": list(budget.not_included),
    }


def _title(budget: MemoryBudget) -> str:
    o = budget.options
    what = "Training" if budget.mode == "train" else "Inference"
    parts = [f"precision {o.get('precision')}"]
    if budget.mode == "train":
        parts += [f"optimizer {o.get('optimizer')}", f"checkpointing {o.get('checkpointing')}"]
    for name in ("batch", "seq"):
        if o.get(name) is not None:
            parts.append(f"{name} {o[name]}")
    parts.append(f"{o.get('device')} kernels")
    return f"{what} memory ({', '.join(parts)})"


def memory_text(budget: MemoryBudget, markdown: bool = False, layers: bool = True) -> list[str]:
    from tabulate import tabulate

    rows = [[i.name, "unknown" if i.bytes is None else f"{i.bytes:,}", "" if i.bytes is None else bytes_text(i.bytes),
             i.formula] for i in budget.items]
    total = budget.total_bytes
    rows.append(["TOTAL" + ("" if budget.complete else " (known items)"), f"{total:,}", bytes_text(total),
                 "sum of the items above"])
    table = tabulate(rows, headers=["item", "bytes", "size", "formula"], tablefmt="github" if markdown else "simple",
                     colalign=("left", "right", "right", "left"), disable_numparse=True)
    lines = ["", f"### {_title(budget)}" if markdown else _title(budget), "", table]
    if layers and budget.layers:
        heading = "Saved for backward, per layer" if budget.mode == "train" else "Output of each layer"
        lines += ["", f"#### {heading}" if markdown else f"{heading}:", ""]
        detail = [[r.path, r.kind, "unknown" if r.bytes is None else f"{r.bytes:,}", r.formula] for r in budget.layers]
        lines.append(tabulate(detail, headers=["layer", "kind", "bytes", "formula"],
                              tablefmt="github" if markdown else "simple", disable_numparse=True))
    bullet = "- "
    if budget.notes:
        lines += ["", "Memory notes:"] + [bullet + n for n in budget.notes]
    lines += ["", "Not included:"] + [bullet + n for n in budget.not_included]
    return lines


def memory_csv(budget: MemoryBudget) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["memory_item", "bytes", "formula"])
    for item in budget.items:
        writer.writerow([item.name, "" if item.bytes is None else item.bytes, item.formula])
    writer.writerow(["TOTAL", budget.total_bytes, "sum of the items"])
    return out.getvalue()
