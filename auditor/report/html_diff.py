"""Render a diff (two models, or a model and a table) as one self-contained HTML page.  Rendering only.

It reads the diff's JSON document (schema nn-auditor/diff@1), so it shows exactly what `--format json`
says: the aligned rows with the differing ones highlighted, each row's findings, and the reconciliation
of the two totals (the `reconciliation` block and `totals.explained` / `totals.unexplained`, when the
diff carries them; otherwise the delta and the findings that account for it).
"""

from __future__ import annotations

from html import escape
from typing import Any

from auditor.report.html import page, toolbar

ROW_CLASS = {"same": "same", "differs": "differs", "only-left": "only", "only-right": "only"}


def render_diff_html(document: dict[str, Any]) -> str:
    """The diff document as a complete page."""
    left, right = document.get("left") or {}, document.get("right") or {}
    return page(f"nn-auditor diff: {left.get('name')} vs {right.get('name')}", toolbar() + diff_section(document))


def _side(label: str, side: dict[str, Any]) -> str:
    where = ", ".join(escape(str(side[k])) for k in ("framework", "source") if side.get(k))
    macs = f"; {side['macs']:,} MACs" if isinstance(side.get("macs"), int) else ""
    return f"<dt>{label}</dt><dd><b>{escape(str(side.get('name')))}</b> <small>({where}){macs}</small></dd>"


def _number(value: Any, signed: bool = False) -> str:
    if value is None:
        return '<td class="n muted" data-v="-1">-</td>'
    text = f"{value:+,}" if signed and value else f"{value:,}"
    return f'<td class="n" data-v="{value}">{text}</td>'


def diff_section(document: dict[str, Any]) -> str:
    """The diff as a <section>: both sides, the verdict, the reconciliation, the aligned rows, the notes."""
    verdict = ('<div class="verdict bad">the two sides differ</div>' if document.get("differs")
               else '<div class="verdict ok">the two sides agree</div>')
    sides = f'<dl class="totals">{_side("left", document.get("left") or {})}{_side("right", document.get("right") or {})}</dl>'
    return (f'<section class="diff"><h1>Diff</h1>{sides}{verdict}{reconciliation(document)}'
            f"<h3>Aligned rows</h3>{_rows(document.get('rows') or [])}{_notes(document)}</section>")


def reconciliation(document: dict[str, Any]) -> str:
    """How the two totals reconcile: the diff's own reconciliation block when it has one, else the rows
    grouped by what explains them."""
    totals = document.get("totals") or {}
    items = [("left total", totals.get("left")), ("right total", totals.get("right")),
             ("delta (right - left)", totals.get("delta"))]
    items += [(name, totals[name]) for name in ("explained", "unexplained") if name in totals]
    block = document.get("reconciliation")
    return reconciliation_section(items, _reconciliation_block(block) if block else _finding_list(document))


def reconciliation_section(items: list[tuple[str, Any]], detail: str) -> str:
    """The "Reconciliation" section: the totals that must add up, then what accounts for them."""
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{_plain(v)}</dd>" for k, v in items)
    return f'<section id="reconciliation"><h3>Reconciliation</h3><dl class="totals">{cells}</dl>{detail}</section>'


def amounts(findings: list[dict[str, Any]]) -> str:
    """Findings with their signed amounts, as a list (a checkpoint comparison's reconciliation)."""
    items = "".join(f"<li><code>{escape(str(f.get('code')))}</code>"
                    + (f" <b>{f['amount']:+,}</b>" if isinstance(f.get("amount"), int) else "")
                    + f" {escape(str(f.get('message')))}</li>" for f in findings)
    return f'<ul class="findings">{items}</ul>' if items else ""


def _plain(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else escape(str(value))


def _reconciliation_block(block: Any) -> str:
    """A reconciliation block as a table: a list of records, or a mapping shown as name/value pairs."""
    if isinstance(block, dict):
        items = [i for i in block.get("items", []) if isinstance(i, dict)] or [{"item": k, "value": v}
                                                                               for k, v in block.items()]
    elif isinstance(block, list):
        items = [i for i in block if isinstance(i, dict)]
    else:
        return f"<p>{escape(str(block))}</p>"
    columns = list(dict.fromkeys(k for item in items for k in item))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_plain(item.get(c, ''))}</td>" for c in columns) + "</tr>" for item in items)
    return f'<table class="reconciliation"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _finding_list(document: dict[str, Any]) -> str:
    """Rows grouped by what explains them (their finding codes), each group's share of the delta."""
    groups: dict[str, list[int]] = {}
    for row in document.get("rows") or []:
        if row.get("status") == "same":
            continue
        codes = " + ".join(sorted({str(f.get("code")) for f in row.get("findings") or []})) or "not explained"
        groups.setdefault(codes, []).append(int(row.get("delta") or 0))
    if not groups:
        return ""
    body = "".join(f'<tr><td><code>{escape(codes)}</code></td><td class="n">{len(deltas)}</td>'
                   f'<td class="n">{sum(deltas):+,}</td></tr>' for codes, deltas in groups.items())
    model_level = "".join(f"<li><code>{escape(str(f.get('code')))}</code> {escape(str(f.get('message')))}</li>"
                          for f in document.get("findings") or [])
    return ('<table class="reconciliation"><thead><tr><th>explained by</th><th>rows</th><th>delta</th></tr></thead>'
            f"<tbody>{body}</tbody></table>" + (f'<ul class="findings">{model_level}</ul>' if model_level else ""))


def _rows(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("#", "left", "kind", "left params", "right", "right params", "delta",
                                             "status"))
    body = []
    for number, row in enumerate(rows, start=1):
        kinds = [k for k in (row.get("left_kind"), row.get("right_kind")) if k]
        kind = " / ".join(dict.fromkeys(kinds))
        status = str(row.get("status")) + (", moved" if row.get("moved") else "")
        findings = "".join(f"<li><code>{escape(str(f.get('code')))}</code> {escape(str(f.get('message')))}</li>"
                           for f in row.get("findings") or [])
        both = row.get("left") is not None and row.get("right") is not None
        body.append(
            f'<tr class="{ROW_CLASS.get(str(row.get("status")), "differs")}"><td class="n">{number}</td>'
            f"<td><code>{escape(str(row.get('left') or '-'))}</code>"
            + (f'<ul class="findings">{findings}</ul>' if findings else "") + "</td>"
            f"<td>{escape(kind)}</td>{_number(row.get('left_params'))}"
            f"<td><code>{escape(str(row.get('right') or '-'))}</code></td>{_number(row.get('right_params'))}"
            f"{_number(row.get('delta') if both else None, signed=True)}<td class=\"status\">{escape(status)}</td></tr>")
    return f'<table class="rows"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _notes(document: dict[str, Any]) -> str:
    notes = document.get("notes") or []
    return ("<h3>Notes</h3><ul>" + "".join(f"<li>{escape(str(n))}</li>" for n in notes) + "</ul>") if notes else ""
