"""Line up two layer sequences with parameters (two audits, or an audit and an expectation table) and
explain every row that differs.

Owns: the diff's data (`model`: frozen `Diff`, `DiffRow`, `Side`, typed entries), the entries taken from
an audit or a table (`entries`), scoring (`score`), the named matching passes (`match`), the row
builders (`rows`) and the convention passes seen across rows (`conventions`); `compare` puts them
together.  Layer facts (families, counting conventions, folding) come from the rules' metadata; the
sequence algorithms from `auditor.align`; explanations from `auditor.explain`.  Rendering (text, JSON,
CSV) lives in `auditor.report.diff`.
May import: `auditor.align`, `auditor.explain`, `auditor.count`, `auditor.expect`, `auditor.rules`,
`auditor.registry`, `auditor.reconcile`, `auditor.ir`, `auditor.findings`.
"""

from auditor.diff.compare import diff_audits, diff_expectation
from auditor.diff.entries import convention_free, model_entries, table_entries
from auditor.diff.match import Match, align, match
from auditor.diff.model import SCHEMA, Diff, DiffRow, Entry, LayerEntry, RowStatus, Side, TableEntry
from auditor.diff.score import same_count, score

__all__ = [
    "SCHEMA", "Diff", "DiffRow", "Entry", "LayerEntry", "Match", "RowStatus", "Side", "TableEntry", "align",
    "convention_free", "diff_audits", "diff_expectation", "match", "model_entries", "same_count", "score",
    "table_entries",
]
