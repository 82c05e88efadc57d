"""Render an `Audit` as one self-contained HTML page: totals, where parameters and MACs go (inline SVG),
and the per-layer table.  No network: the CSS and the small script are inline.  Rendering only.

The page's script records any error (window.onerror, console.error) and writes the count into the
`#nn-auditor-check` element once the page has loaded, so a headless browser's DOM dump shows whether
the page rendered cleanly.
"""

from __future__ import annotations

from html import escape

from auditor.count import Audit, LayerCheck, bytes_per_element
from auditor.folded import fold_checks
from auditor.report.common import (
    activation_gap,
    activation_unknown,
    bytes_text,
    macs_gap,
    macs_unknown,
    shape_text,
    si_text,
    unknown_shapes,
)
from auditor.report.html_chart import MAX_BARS, Bar, Segment, bar_chart

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:20px 28px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:19px;margin:28px 0 6px}h3{font-size:15px;margin:18px 0 6px}
small,.muted{color:#5b6673}code{font:12px ui-monospace,Menlo,Consolas,monospace}
.verdict{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;margin:4px 0 10px}
.verdict.ok{background:#dff3e4;color:#17622b}.verdict.bad{background:#fbe0e0;color:#9b1c1c}
.verdict.warn{background:#fdf1d8;color:#8a5a00}
dl.totals{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 16px}
dl.totals dt{color:#5b6673}dl.totals dd{margin:0;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px 28px}
figure.chart{margin:0;background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:8px 10px;overflow-x:auto}
figcaption{font-weight:600;margin-bottom:4px}svg text{font:11px system-ui,sans-serif;fill:#1d232b}
svg rect:hover{opacity:.75}.empty{color:#5b6673;margin:6px 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde2e8;margin:8px 0}
th,td{padding:3px 8px;border-bottom:1px solid #edf0f3;text-align:left;vertical-align:top}
th{background:#eef1f5;cursor:pointer;user-select:none;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.mismatch td,tr.differs td{background:#fdeaea}tr.unverified td,tr.only td{background:#fdf5e3}
table.reconciliation{width:auto;min-width:360px}tr.no-params td{color:#6b7580}td.status{font-weight:600}ul.findings{margin:4px 0 0 18px;padding:0}
.toolbar{margin:6px 0}label{cursor:pointer}body.problems-only tr.ok,body.problems-only tr.no-params,
body.problems-only tr.same{display:none}#nn-auditor-check{color:#8a95a1;font-size:11px;margin-top:30px}
"""

SCRIPT = """
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message||e));});
  var original=console.error;
  console.error=function(){errors.push(Array.prototype.join.call(arguments,' '));original.apply(console,arguments);};
  function sortBy(th){
    var table=th.closest('table'),body=table.tBodies[0],index=Array.prototype.indexOf.call(th.parentNode.children,th);
    var rows=Array.prototype.slice.call(body.rows),up=th.getAttribute('data-order')!=='asc';
    function key(row){var t=row.cells[index].getAttribute('data-v')||row.cells[index].textContent;
      var n=parseFloat(t.replace(/,/g,''));return isNaN(n)?t:n;}
    rows.sort(function(a,b){var x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(up?1:-1);});
    rows.forEach(function(r){body.appendChild(r);});th.setAttribute('data-order',up?'asc':'desc');
  }
  window.addEventListener('load',function(){
    try{
      document.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){sortBy(th);});});
      var box=document.getElementById('problems-only');
      if(box){box.addEventListener('change',function(){document.body.classList.toggle('problems-only',box.checked);});}
      var svgs=document.querySelectorAll('svg').length,rows=document.querySelectorAll('tbody tr').length;
      var check=document.getElementById('nn-auditor-check');
      check.setAttribute('data-errors',String(errors.length));
      check.textContent=errors.length?'page errors: '+errors.join(' | '):'rendered: '+rows+' rows, '+svgs+' charts';
    }catch(e){errors.push(String(e));}
  });
})();
"""


def page(title: str, body: str) -> str:
    """A whole HTML document around `body`: inline CSS and script, nothing fetched from anywhere."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><script>{SCRIPT}</script><style>{CSS}</style></head>\n"
            f'<body><main>{body}<p id="nn-auditor-check" data-errors="">not rendered</p></main></body></html>\n')


def render_audit_html(audit: Audit, depth: int = 0) -> str:
    """The audit as a complete page."""
    return page(f"nn-auditor: {audit.model.name}", toolbar() + audit_section(audit, depth))


def toolbar() -> str:
    return ('<div class="toolbar"><label><input type="checkbox" id="problems-only"> show only rows with '
            "a problem</label></div>")


def audit_section(audit: Audit, depth: int = 0, heading: str = "h1") -> str:
    """One model's report as a <section>, for a page of its own or one of a batch."""
    model = audit.model
    title = (f"<{heading}>{escape(model.name)} <small>({escape(model.framework)}, {escape(model.source)})</small>"
             f"</{heading}>")
    level = block_depth(audit)
    by = "block" if level == 1 else f"block (first {level} path parts)"
    charts = ('<div class="charts">'
              + bar_chart(f"Parameters by {by}, then layer", "parameters", _bars(audit, "params", level), "chart-params")
              + bar_chart(f"MACs by {by}, then layer", "MACs", _bars(audit, "macs", level), "chart-macs") + "</div>")
    return (f'<section class="audit">{title}{_verdict(audit)}{_totals(audit)}{charts}'
            f"{_memory(audit)}<h3>Layers</h3>{_layer_table(audit, depth)}{_lists(audit)}"
            f'<p class="muted">Convention: {escape(audit.convention)}</p></section>')


def _verdict(audit: Audit) -> str:
    t = audit.totals
    if not audit.consistent:
        return f'<div class="verdict bad">{t.mismatches} mismatched layer{"s" if t.mismatches != 1 else ""}</div>'
    if t.unverified_layers or audit.model.caveats:
        return f'<div class="verdict warn">consistent; {t.unverified_layers} layers unverified</div>'
    return '<div class="verdict ok">consistent: every count recomputed</div>'


def macs_text(audit: Audit) -> str:
    """The MAC total, or "unknown" with the reason: never a 0 standing in for a value nobody computed."""
    t = audit.totals
    if macs_unknown(audit):
        return unknown_shapes(audit)
    text = f"{t.macs:,} ({si_text(t.macs)})" + (" per sample" if t.macs_per_sample else "")
    return text if t.macs_complete else f"{text} — incomplete: {escape(macs_gap(audit))}"


def _totals(audit: Audit) -> str:
    t = audit.totals
    element = bytes_per_element(audit.model)
    items = [
        ("Parameters", f"{t.reported:,}" + (f" (unverified {t.unverified:,})" if t.unverified else "")),
        ("Analytic recount", f"{t.analytic:,}"),
        ("Trainable / non-trainable / buffers", f"{t.trainable:,} / {t.non_trainable:,} / {t.buffers:,}"),
        ("Verified by a rule", f"{100 * t.verified_fraction:.1f}% of parameters; {t.mismatches} mismatched, "
                               f"{t.unverified_layers} unverified of {t.layers} layers"),
        ("MACs", macs_text(audit)),
        ("Parameter memory", f"{t.param_bytes:,} bytes ({bytes_text(t.param_bytes)})"),
        ("Activation memory", unknown_shapes(audit) if activation_unknown(audit)
         else f"{t.activation_elements:,} values ({bytes_text(t.activation_elements * element)}){activation_gap(audit)}"),
    ]
    if t.shared:
        items.insert(3, ("Shared (tied, counted once)", f"{t.shared:,}"))
    if audit.model.framework_total is not None:
        items.insert(1, (f"{audit.model.framework} says", f"{audit.model.framework_total:,}"))
    return '<dl class="totals">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def block_depth(audit: Audit, most: int = MAX_BARS) -> int:
    """How many path parts name a block: 1, or more while that gives too few blocks (stem/blocks/head)
    to show where things go and going one level deeper still fits the chart."""
    depth = 1
    while depth < 4:
        here, deeper = len(fold_checks(audit, depth)), len(fold_checks(audit, depth + 1))
        if here >= 4 or deeper > most or deeper == here:
            break
        depth += 1
    return depth


def _bars(audit: Audit, what: str, depth: int) -> list[Bar]:
    bars = []
    for block in fold_checks(audit, depth):
        values = [(c.path, c.reported if what == "params" else c.macs) for c in block.checks]
        segments = tuple(Segment(path, value) for path, value in values if value)
        bars.append(Bar(block.path, segments, sum(value is None for _, value in values)))
    return bars


def _cell(value: int | None, unknown: str = "unknown") -> str:
    if value is None:
        return f'<td class="n muted" data-v="-1">{unknown}</td>'
    return f'<td class="n" data-v="{value}">{value:,}</td>'


def _layer_table(audit: Audit, depth: int) -> str:
    drop = len({s[0] for s in audit.model.input_shapes if len(s) > 1}) == 1
    head = "".join(f"<th>{h}</th>" for h in ("layer", "kind", "output" + (" (per sample)" if drop else ""), "params",
                                             "analytic", "formula", "MACs", "status"))
    rows = []
    for row in fold_checks(audit, depth):
        last = row.checks[-1]
        formula = row.checks[0].formula if len(row.checks) == 1 else ""
        findings = [f for c in row.checks for f in c.findings]
        detail = "".join(f"<li><code>{escape(f.code)}</code> {escape(f.message)}</li>" for f in findings)
        notes = _row_note(row.checks)
        rows.append(
            f'<tr class="{escape(str(row.status))}"><td><code>{escape(row.path)}</code>'
            + (f'<ul class="findings">{detail}</ul>' if detail else "") + notes + "</td>"
            f"<td>{escape(row.kind)}</td><td>{escape(shape_text(last.output_shape, drop))}</td>"
            f'<td class="n" data-v="{row.reported}">{row.reported:,}</td>{_cell(row.analytic, "-")}'
            f"<td><code>{escape(formula if formula not in (None, '0') else '')}</code></td>{_cell(row.macs)}"
            f'<td class="status">{escape(str(row.status))}</td></tr>')
    return f'<table class="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _row_note(checks: list[LayerCheck]) -> str:
    notes = [c.note for c in checks if c.note and str(c.status) == "unverified"]
    return f'<div class="muted">{escape("; ".join(notes))}</div>' if notes else ""


def _memory(audit: Audit) -> str:
    """The memory budget's items and total (`--memory train|infer`), when one was asked for."""
    if audit.memory is None:
        return ""
    from auditor.report.memory import memory_to_dict

    budget = memory_to_dict(audit.memory)
    rows = "".join(f"<tr><td>{escape(i['name'])}</td>{_cell(i['bytes'])}"
                   f"<td>{'' if i['bytes'] is None else escape(bytes_text(i['bytes']))}</td>"
                   f"<td><code>{escape(i['formula'])}</code></td></tr>" for i in budget["items"])
    total = budget["total_bytes"]
    rows += (f"<tr><td><b>TOTAL{'' if budget['complete'] else ' (known items)'}</b></td>{_cell(total)}"
             f"<td>{escape(bytes_text(total))}</td><td></td></tr>")
    left_out = "".join(f"<li>{escape(n)}</li>" for n in budget["not_included"])
    return (f"<h3>Memory budget: {escape(budget['mode'])}</h3><table class=\"memory\"><thead><tr><th>item</th>"
            f"<th>bytes</th><th>size</th><th>formula</th></tr></thead><tbody>{rows}</tbody></table>"
            + (f"<p class=\"muted\">Not included:</p><ul>{left_out}</ul>" if left_out else ""))


def _lists(audit: Audit) -> str:
    parts = []
    for title, items in (("Findings", [f"[{f.code}] {f.message}" for f in audit.findings]),
                         ("Notes", list(audit.model.notes)),
                         ("Not checked (--strict fails)", list(audit.model.caveats))):
        if items:
            parts.append(f"<h3>{escape(title)}</h3><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    return "".join(parts)


__all__ = ["audit_section", "macs_text", "page", "render_audit_html", "toolbar"]
