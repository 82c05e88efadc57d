"""Render a diff (two models, or a model and a table) as one self-contained HTML page.  Rendering only.

It reads the diff's JSON document (schema nn-auditor/diff@1), so it shows exactly what `--format json`
says: the aligned rows with the differing ones highlighted, each row's findings, and the reconciliation
of the two totals (its `reconciliation` block: base + explained + unexplained = target, by cause).
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
    sides = f'<dl class="totals">{_side("left", document.get("left") or {})}{_side("right", document.get("right") or {})}</dl>'
    return (f'<section class="diff"><h1>Diff</h1>{sides}{_verdict(document)}'
            f"{reconciliation_section(document.get('reconciliation') or {})}"
            f"<h3>Aligned rows</h3>{_rows(document.get('rows') or [])}{_notes(document)}</section>")


def _verdict(document: dict[str, Any]) -> str:
    if not document.get("differs"):
        return '<div class="verdict ok">the two sides agree</div>'
    if document.get("equivalent"):
        return ('<div class="verdict warn">equivalent: the two sides differ only by counting conventions or an '
                "exporter's rewrites, all accounted for</div>")
    return '<div class="verdict bad">the two sides differ</div>'


def reconciliation_section(block: dict[str, Any]) -> str:
    """The reconciliation block (`auditor.reconcile`, as JSON): base + explained + unexplained = target,
    one row per cause with its count and amount, then the rows nothing explains."""
    base, target = str(block.get("base", "left")), str(block.get("target", "right"))
    items = [(f"{base} total", block.get("base_total")), ("explained", block.get("explained")),
             ("unexplained", block.get("unexplained")), (f"{target} total", block.get("target_total"))]
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{_plain(v)}</dd>" for k, v in items if v is not None)
    causes = "".join(
        f'<tr class="cause"><td><code>{escape(str(c.get("code")))}</code></td>'
        f"<td>{escape(str(c.get('cause')))}</td>{_number(c.get('count'))}{_number(c.get('amount'), signed=True)}"
        f"<td>{'convention' if c.get('equivalent') else ''}</td></tr>" for c in block.get("items") or [])
    left = "".join(f"<li>{escape(str(r.get('row')))} <b>{_signed(r.get('amount'))}</b></li>"
                   for r in block.get("unexplained_rows") or [])
    table = ('<table class="reconciliation"><thead><tr><th>code</th><th>cause</th><th>rows</th><th>amount</th>'
             f"<th></th></tr></thead><tbody>{causes}</tbody></table>" if causes else "")
    rest = f'<p class="muted">Unexplained rows:</p><ul class="findings">{left}</ul>' if left else ""
    return (f'<section id="reconciliation"><h3>Reconciliation</h3><dl class="totals">{cells}</dl>'
            f"{table}{rest}</section>")


def _plain(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else escape(str(value))


def _signed(value: Any) -> str:
    return f"{value:+,}" if isinstance(value, int) and value else escape(str(value))


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
