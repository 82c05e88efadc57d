"""Golden per-layer snapshots: an audit written as an expectation-table CSV, and the drift between a
stored snapshot and a fresh audit.

The file is a plain expectation table (one line per layer, a TOTAL row), so `auditor.diff` lines it up
with the model and explains a drifted count (e.g. "its kernel is 5x5, not 3x3").  Layer names are
kept for reading but never compared: Keras numbers auto-named layers per process.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from auditor.count import Audit, LayerCheck
from auditor.registry import Registry
from auditor.rules import RULES, Rule
from auditor.testing.context import display_path

COLUMNS = (
    "layer", "kind", "in_channels", "out_channels", "kernel_size", "stride", "groups", "use_bias",
    "output_shape", "params",
)
"""Every column an expectation table understands that a snapshot fills in, in file order."""

MAX_CHANGED_ROWS = 40
"""At most this many changed rows are listed in a drift message."""


def _cell(value: Any) -> str:
    """An attribute as a table cell: 3, 3x3, yes/no; "" for anything a table cannot state."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "x".join(str(v) for v in value)
    return ""


def _shape_cell(check: LayerCheck) -> str:
    """Per-sample output shape ("32x24x24"), blank when a non-batch dim is symbolic."""
    shape = check.output_shape
    if not shape:
        return ""
    dims = shape[1:] if len(shape) > 1 else shape
    return _cell(tuple(dims))


def layer_row(check: LayerCheck, rules: Registry[str, Rule] = RULES) -> dict[str, str]:
    """One layer as a snapshot row; hyper-parameter columns only where the diff can read them back
    (the columns the layer's rule states, `Rule.columns`)."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(layer=check.path, kind=check.kind, output_shape=_shape_cell(check), params=str(check.reported))
    rule = rules.get(check.kind)
    seen: set[str] = set()
    for column, attr in (rule.columns if rule is not None else {}).items():
        if column in row and attr in check.layer.attrs and attr not in seen:
            seen.add(attr)
            row[column] = _cell(check.layer.attrs[attr])
    return row


def snapshot_rows(audit: Audit) -> list[dict[str, str]]:
    """Every layer in execution order, then the TOTAL row."""
    rows = [layer_row(check, audit.rules) for check in audit.checks]
    total = dict.fromkeys(COLUMNS, "")
    total.update(layer="TOTAL", params=str(audit.totals.reported))
    return rows + [total]


def render_snapshot(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_snapshot(path: str) -> list[dict[str, str]]:
    """The stored rows (columns this version does not write are ignored, missing ones read as blank)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{c: (row.get(c) or "").strip() for c in COLUMNS} for row in csv.DictReader(handle)]


def _key(row: dict[str, str]) -> tuple[str, ...]:
    """What a snapshot pins down: everything but the layer's name."""
    return tuple(row[c] for c in COLUMNS if c != "layer")


def same_rows(stored: list[dict[str, str]], current: list[dict[str, str]]) -> bool:
    return [_key(r) for r in stored] == [_key(r) for r in current]


def _line(row: dict[str, str]) -> str:
    return render_snapshot([row]).splitlines()[1]


def changed_rows(stored: list[dict[str, str]], current: list[dict[str, str]]) -> list[str]:
    """A plain per-row diff by content (names ignored): "- " the snapshot's rows, "+ " the model's."""
    matcher = difflib.SequenceMatcher(None, [_key(r) for r in stored], [_key(r) for r in current], autojunk=False)
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lines += [f"- {_line(r)}" for r in stored[i1:i2]]
        lines += [f"+ {_line(r)}" for r in current[j1:j2]]
    if len(lines) > MAX_CHANGED_ROWS:
        lines = lines[:MAX_CHANGED_ROWS] + [f"... {len(lines) - MAX_CHANGED_ROWS} more changed rows"]
    return lines


@dataclass
class Drift:
    """A stored snapshot that no longer describes the model (or that does not exist yet)."""

    path: str
    missing: bool
    changed: list[str]
    diff_text: str = ""
    findings: list[str] = field(default_factory=list)
    """"[code] message" of each finding in `diff_text`."""

    def message(self, model_name: str, findings_first: bool = False) -> str:
        """The report; `findings_first` repeats the findings under the headline (for truncated reports)."""
        where = display_path(self.path)
        if self.missing:
            return f"{model_name}: no audit snapshot at {where}; run pytest --audit-update to write it"
        first = [f"  {f}" for f in self.findings] if findings_first else []
        parts = [f"{model_name}: the model no longer matches its audit snapshot {where}", *first, ""]
        if self.diff_text:
            parts += [self.diff_text.rstrip(), ""]
        parts += ["changed rows (- snapshot, + model now):", *self.changed, "",
                  "if the change is intended, run pytest --audit-update to refresh the snapshot"]
        return "\n".join(parts)


def _explained(audit: Audit, path: str) -> tuple[str, list[str]]:
    """The per-layer diff through the diff reporter, and its findings; blank when the file is no table."""
    from auditor.diff import diff_expectation
    from auditor.errors import InputError
    from auditor.expect import read_table
    from auditor.report.diff import render_diff

    try:
        diff = diff_expectation(audit, read_table(path, audit.rules))
    except InputError:
        return "", []
    return render_diff(diff), [f"[{f.code}] {f.message}" for f in diff.all_findings]


def drift(audit: Audit, path: str) -> Drift | None:
    """None when the snapshot at `path` still describes `audit`."""
    if not os.path.isfile(path):
        return Drift(path, True, [])
    current, stored = snapshot_rows(audit), read_snapshot(path)
    if same_rows(stored, current):
        return None
    return Drift(path, False, changed_rows(stored, current), *_explained(audit, path))


def write_snapshot(audit: Audit, path: str) -> str | None:
    """Write (or refresh) the snapshot; "written" / "updated", or None when the content is unchanged."""
    rows = snapshot_rows(audit)
    existed = os.path.isfile(path)
    if existed and same_rows(read_snapshot(path), rows):
        return None
    write_atomically(path, render_snapshot(rows))
    return "updated" if existed else "written"


def write_atomically(path: str, text: str) -> None:
    """Write `text` to a temporary file in `path`'s folder, then rename it over `path`: a reader (another
    pytest-xdist worker, an editor) sees the old file or the new one, never half of one."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


__all__ = ["COLUMNS", "Drift", "drift", "read_snapshot", "render_snapshot", "snapshot_rows", "write_atomically",
           "write_snapshot"]
