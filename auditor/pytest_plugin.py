"""pytest plugin (entry point `pytest11: nn_auditor`): the `audit` fixture, the `audit_models` marker,
`--audit-update`, and readable reports for failed `result == expected` asserts.

Thin on purpose: it imports only pytest and the standard library; `auditor.testing` (and through it
the counter and the diff) is imported the first time a test asks for a fixture.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

MARKER = "audit_models"


@dataclass
class PluginState:
    """Per-run state, kept in `config.stash`: the update switch and the snapshots it touched."""

    update: bool = False
    written: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def record(self, path: str, what: str) -> None:
        (self.written if what == "written" else self.updated).append(path)


STATE = pytest.StashKey[PluginState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nn-auditor", "nn-auditor model audits")
    group.addoption(
        "--audit-update", action="store_true", default=False,
        help="write or refresh the golden per-layer audit snapshots instead of comparing with them",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STATE] = PluginState(update=bool(config.getoption("audit_update", False)))
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*models, ids=None, **options): run the test once per model, each audited (with the "
        "adapter options) into the `audited` fixture; models are specs, paths, objects or factories",
    )


def _context(request: pytest.FixtureRequest) -> Any:
    from auditor.testing import Context

    state = request.config.stash[STATE]
    path = request.path
    return Context(str(path.parent), path.stem, request.node.name, state.update, state.record)


@pytest.fixture
def audit(request: pytest.FixtureRequest) -> Any:
    """`audit(model, **options)` -> AuditResult with assert_total / assert_verified / assert_matches_table /
    assert_matches / assert_snapshot; `audit.table(path)` and `audit.snapshot()` for `==` asserts."""
    from auditor.testing import Auditor

    return Auditor(_context(request))


@pytest.fixture
def audited(request: pytest.FixtureRequest, audit: Any) -> Any:
    """The AuditResult of one of the models listed by `@pytest.mark.audit_models(...)`."""
    if not hasattr(request, "param"):
        pytest.fail(f"the `audited` fixture needs @pytest.mark.{MARKER}(model, ...) on the test", pytrace=False)
    model, options = request.param
    return audit(model, **options)


def _model_id(model: Any, index: int) -> str:
    if isinstance(model, str):
        return model
    if isinstance(model, os.PathLike):
        return os.path.basename(str(os.fspath(model)))
    name = getattr(model, "__name__", None)
    return name if isinstance(name, str) else f"{type(model).__name__}{index}"


def _models(marker: pytest.Mark) -> tuple[list[Any], list[str]]:
    """The marker's models and their ids: given one by one, as one list/tuple, or as an {id: model} dict."""
    args = marker.args
    if len(args) == 1 and isinstance(args[0], dict):
        return list(args[0].values()), [str(name) for name in args[0]]
    models = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    ids = marker.kwargs.get("ids") or [_model_id(m, i) for i, m in enumerate(models)]
    return models, list(ids)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or "audited" not in metafunc.fixturenames:
        return
    models, ids = _models(marker)
    if not models:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER}() lists no model")
    options = {k: v for k, v in marker.kwargs.items() if k != "ids"}
    metafunc.parametrize("audited", [(m, options) for m in models], indirect=True, ids=ids)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    """Per-layer diff and findings for a failed `result == table / snapshot / other result`."""
    testing = sys.modules.get("auditor.testing")
    if testing is None:  # no AuditResult can exist before the helpers were imported
        return None
    lines: list[str] | None = testing.explain_comparison(op, left, right, _truncated(config))
    return lines


def _truncated(config: pytest.Config) -> bool:
    """Whether pytest will cut the report to a few lines (as its `assertion.truncate` decides)."""
    if config.get_verbosity(pytest.Config.VERBOSITY_ASSERTIONS) >= 2 or os.environ.get("CI") \
            or os.environ.get("BUILD_NUMBER"):
        return False
    limits = [config.getini(name) for name in ("truncation_limit_lines", "truncation_limit_chars")]
    return not all(limit is not None and int(limit) == 0 for limit in limits)


WORKER_OUTPUT = "nn_auditor_snapshots"
"""The key under which a pytest-xdist worker hands the snapshots it wrote to the controller."""


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: pass the snapshots this worker wrote to the controller's summary."""
    state, output = session.config.stash.get(STATE, None), getattr(session.config, "workeroutput", None)
    if state is not None and output is not None:
        output[WORKER_OUTPUT] = {"written": list(state.written), "updated": list(state.updated)}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the pytest-xdist controller: collect what a finished worker wrote (only this hook sees it)."""
    state = node.config.stash.get(STATE, None)
    report = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if state is None or not report:
        return
    state.written += report["written"]
    state.updated += report["updated"]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not (state.written or state.updated):
        return
    terminalreporter.write_sep("-", "nn-auditor snapshots")
    for what, paths in (("written", state.written), ("updated", state.updated)):
        for path in paths:
            terminalreporter.write_line(f"{what}: {os.path.relpath(path)}")
