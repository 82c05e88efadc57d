"""Renderers: structured results in, text out (table, json, csv, markdown, html).  Nothing is computed here.

Owns: every output format of audits (`audit`, `audit_text`; schema nn-auditor/report@1), diffs (`diff`, diff@1),
checkpoint comparisons (`checkpoint`), memory budgets (`memory`), reconciliations (`reconciliation`), claims (`claim`),
batch runs (`batch`), the HTML pages (`html*`), and the number and shape formatting they share (`common`).
May import: the core data it renders (`auditor.count`, `auditor.folded`, `auditor.diff`, `auditor.checkpoint`,
`auditor.memory`, `auditor.reconcile`, `auditor.outcome`, `auditor.ir`, `auditor.claim`, `auditor.findings`).
"""

from auditor.report.audit import SCHEMA, audit_to_dict, render_audit
from auditor.report.common import FORMATS

__all__ = ["FORMATS", "SCHEMA", "audit_to_dict", "render_audit"]
