"""Test helpers for users' suites: audit a model, assert its totals, tables and golden snapshots.

The pytest plugin (`auditor.pytest_plugin`) hands tests an `Auditor` as the `audit` fixture; the same
classes work without pytest (`Auditor()(model).assert_total(61_706)`).

Owns: assertion helpers (`result`), golden snapshots (`snapshot`) and a test's context (`context`).
May import: the API (`auditor`), `auditor.report` and the core it checks with (`auditor.count`, `auditor.diff`,
`auditor.expect`, `auditor.registry`, `auditor.rules`, `auditor.errors`); never pytest (the plugin wraps this).
"""

from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass, field
from typing import Any

from auditor.expect import Expectation
from auditor.testing.context import Context
from auditor.testing.result import COUNTS, AuditResult, Snapshot


def is_factory(model: Any) -> bool:
    """A function, class or partial that builds the model when called (a model object is not one)."""
    return inspect.isroutine(model) or inspect.isclass(model) or isinstance(model, functools.partial)


@dataclass
class Auditor:
    """Callable: `audit(model, **options)` audits a model object, file, `reference:NAME` or factory."""

    context: Context = field(default_factory=Context)

    def __repr__(self) -> str:
        return f"<audit fixture of {self.context.test}>"

    def __call__(self, model: Any, **options: Any) -> AuditResult:
        import auditor

        if is_factory(model):
            model = model()
        elif isinstance(model, (str, os.PathLike)) and os.path.exists(self.context.resolve(model)):
            model = self.context.resolve(model)
        return AuditResult(auditor.audit(model, **options), self.context)

    def table(self, path: str | os.PathLike[str]) -> Expectation:
        """An expectation table (path relative to the test file), for `assert audit(m) == audit.table(p)`."""
        from auditor.expect import read_table

        return read_table(self.context.resolve(path))

    def snapshot(self, name: str | None = None) -> Snapshot:
        """The test's golden snapshot file, for `assert audit(m) == audit.snapshot()`."""
        return Snapshot(self.context.snapshot_path(name), self.context)


def explain_comparison(op: str, left: object, right: object, findings_first: bool = False) -> list[str] | None:
    """Lines for pytest's report of a failed `result == other` (either side an AuditResult)."""
    if op != "==":
        return None
    if isinstance(left, AuditResult):
        return left.explain(right, findings_first)
    if isinstance(right, AuditResult):
        return right.explain(left, findings_first)
    return None


__all__ = ["COUNTS", "AuditResult", "Auditor", "Context", "Snapshot", "explain_comparison", "is_factory"]
