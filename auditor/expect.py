"""Expectation tables: the per-layer counts (and hyper-parameters) a person wrote by hand or copied
from a paper, read from CSV, YAML or JSON into one framework-free form the diff can line up.

Columns: `layer` and `params` are required; optional `kind`, `in_channels`, `out_channels`,
`kernel_size` ("3" or "3x3"), `stride`, `padding`, `groups`, `use_bias`, `output_shape` ("32x24x24").
A row named TOTAL gives the table's total.  Common spellings are accepted as aliases (name, depth,
kernel, filters, units, bias ...); other columns are kept aside and reported as unused.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import InputError
from auditor.registry import Registry
from auditor.rules import RULES, Rule
from auditor.table_values import parse_bool, parse_count, parse_dims, parse_padding

HYPER_COLUMNS = (
    "kind", "in_channels", "out_channels", "kernel_size", "stride", "padding", "groups", "use_bias", "output_shape",
)
"""The optional hyper-parameter columns, in their canonical spelling."""

ALIASES: dict[str, str] = {
    "name": "layer",
    "layer_name": "layer",
    "parameters": "params",
    "param": "params",
    "param_count": "params",
    "num_params": "params",
    "type": "kind",
    "layer_type": "kind",
    "depth": "out_channels",
    "filters": "out_channels",
    "units": "out_channels",
    "out_features": "out_channels",
    "in_features": "in_channels",
    "input_depth": "in_channels",
    "kernel": "kernel_size",
    "filter_size": "kernel_size",
    "bias": "use_bias",
    "output": "output_shape",
}
"""Header spellings people use, mapped to the canonical column names."""

Rules = Registry[str, Rule]


@dataclass(frozen=True)
class ExpectedRow:
    """One row of the table: the name the person used, their count and any hyper-parameters they gave."""

    layer: str
    params: int | None
    line: int
    """Where the row sits in the file (CSV line, or 1-based list index), for messages."""
    kind: str | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    """Canonical column -> parsed value: ints, int tuples (kernel_size, stride, output_shape), bool, str."""

    @property
    def weighted(self) -> bool:
        """The row claims parameters, so it lines up with one of the model's layers."""
        return bool(self.params)


@dataclass
class Expectation:
    """A whole expectation table: its rows in order, the optional TOTAL, and what was not used."""

    name: str
    source: str
    rows: list[ExpectedRow]
    total: int | None = None
    unused_columns: list[str] = field(default_factory=list)

    @property
    def weighted_rows(self) -> list[ExpectedRow]:
        return [row for row in self.rows if row.weighted]

    @property
    def rows_sum(self) -> int:
        return sum(row.params or 0 for row in self.rows)


def kind_spellings(rules: Rules = RULES) -> dict[str, str]:
    """Every layer-type spelling the rules know (`Rule.aliases` and each kind itself) -> canonical kind."""
    spellings: dict[str, str] = {}
    for kind, rule in rules.items():
        spellings.setdefault(kind, kind)
        for alias in rule.aliases:
            spellings.setdefault(alias, kind)
    return spellings


def canonical_kind(text: str, rules: Rules = RULES) -> str:
    """The IR kind a table's layer-type cell names ("Conv2D" -> conv, "fc6" -> dense); unknown names stay
    as written.  The spellings are the rules' (`Rule.aliases`, `Rule.table_prefixes`)."""
    key = re.sub(r"[\s\-]", "_", text.strip().lower())
    spellings = kind_spellings(rules)
    if key in spellings:
        return spellings[key]
    flat = key.replace("_", "")
    if flat in spellings:
        return spellings[flat]
    for kind, rule in rules.items():
        if any(flat.startswith(p) and flat[len(p):].isdigit() for p in rule.table_prefixes):
            return kind
    return key


def _column(header: str) -> str:
    key = re.sub(r"[\s\-]+", "_", header.strip().lower()).strip("_")
    return ALIASES.get(key, key)


_PARSERS = {
    "in_channels": parse_count,
    "out_channels": parse_count,
    "groups": parse_count,
    "kernel_size": parse_dims,
    "stride": parse_dims,
    "output_shape": parse_dims,
    "padding": parse_padding,
    "use_bias": parse_bool,
}


def _row(raw: dict[str, Any], line: int, where: str, rules: Rules) -> ExpectedRow | int:
    """One parsed row, or the TOTAL row's count as an int."""
    name = raw.get("layer")
    name = "" if name is None else str(name).strip()
    params = parse_count(raw.get("params"), f"{where} line {line}, params")
    if name.upper() == "TOTAL":
        if params is None:
            raise InputError(f"{where} line {line}: the TOTAL row has no params")
        return params
    if not name:
        raise InputError(f"{where} line {line}: the row has no layer name")
    hyper: dict[str, Any] = {}
    for column, parse in _PARSERS.items():
        value = parse(raw.get(column), f"{where} line {line}, {column}")
        if value is not None:
            hyper[column] = value
    kind_text = raw.get("kind")
    kind = canonical_kind(str(kind_text), rules) if kind_text not in (None, "") else None
    return ExpectedRow(name, params, line, kind, hyper)


def _records_csv(path: str) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        lines = [(reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)]
    if not lines:
        raise InputError(f"{path}: the table is empty")
    header = [_column(h) for h in lines[0][1]]
    records = []
    for line, cells in lines[1:]:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise InputError(f"{path} line {line}: {len(cells)} cells but the header has {len(header)} columns")
        records.append((line, {h: (c.strip() or None) for h, c in zip(header, cells)}))
    return records, header


def _records_mapping(data: Any, path: str) -> tuple[list[tuple[int, dict[str, Any]]], list[str], int | None]:
    """Rows from YAML/JSON: a list of mappings, or {layers|rows: [...], total: N}."""
    total = None
    if isinstance(data, dict):
        total = parse_count(data.get("total", data.get("TOTAL")), f"{path}: total")
        data = data.get("layers", data.get("rows"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(f"{path}: expected a list of rows (mappings with layer and params), or {{layers: [...]}}")
    records: list[tuple[int, dict[str, Any]]] = []
    header: list[str] = []
    for index, raw in enumerate(data, start=1):
        row = {_column(str(k)): v for k, v in raw.items()}
        header.extend(k for k in row if k not in header)
        records.append((index, row))
    return records, header, total


def _load(path: str) -> tuple[list[tuple[int, dict[str, Any]]], list[str], int | None]:
    extension = os.path.splitext(path)[1].lower()
    if extension in (".csv", ".tsv", ".txt"):
        return (*_records_csv(path), None)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if extension == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    elif extension in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise InputError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    else:
        raise InputError(f"{path}: unknown table format {extension or '(no extension)'}; use .csv, .yaml or .json")
    return _records_mapping(data, path)


def read_table(path: str, rules: Rules = RULES) -> Expectation:
    """Read an expectation table (CSV / YAML / JSON by extension); InputError with one line when it is bad.

    Layer-type cells are read as the kinds of `rules` (the registry the table will be compared with)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such table")
    try:
        records, header, total = _load(path)
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the table ({err})") from None
    if "layer" not in header or "params" not in header:
        raise InputError(f"{path}: a table needs the columns layer and params (found: {', '.join(header)})")
    rows: list[ExpectedRow] = []
    for line, raw in records:
        parsed = _row(raw, line, path, rules)
        if isinstance(parsed, int):
            if total is not None:
                raise InputError(f"{path} line {line}: a second TOTAL")
            total = parsed
        else:
            rows.append(parsed)
    if not any(row.weighted for row in rows):
        raise InputError(f"{path}: no row gives a parameter count above 0")
    known = {"layer", "params", *HYPER_COLUMNS}
    unused = [h for h in header if h not in known]
    name = os.path.basename(path)
    return Expectation(name, path, rows, total, unused)


__all__ = ["Expectation", "ExpectedRow", "canonical_kind", "parse_bool", "parse_count", "parse_dims", "parse_padding",
           "read_table"]
