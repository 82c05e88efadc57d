"""Renderers: structured results in, text out (table, json, csv, markdown).  Nothing is computed here."""

from auditor.report.audit import SCHEMA, audit_to_dict, render_audit
from auditor.report.common import FORMATS

__all__ = ["FORMATS", "SCHEMA", "audit_to_dict", "render_audit"]
