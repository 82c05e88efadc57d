"""Audit many models (`audit DIR`, `--each`), optionally in a pool of processes (`--jobs N`).

Each model is audited and rendered in a worker, so only plain data (text, the JSON document, the
summary figures) crosses processes.  Results come back in input order; one model that fails, even
one whose worker process dies, never stops the rest.  Workers are forked from this process when that is
safe (no thread running, torch and TensorFlow not imported), else started by a forkserver.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from auditor.options import AuditOptions
from auditor.outcome import Outcome

if TYPE_CHECKING:  # the pool's modules load only when a pool is started (one model's audit needs none)
    from concurrent.futures import Future

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


def exit_code(result: Any, strict: bool) -> int:
    """0 consistent, 1 a mismatch (under `strict` also an unverified layer, an unattributed tensor, a caveat
    or MACs missing for concrete input shapes: `Audit.macs_missing`)."""
    if not result.consistent:
        return EXIT_MISMATCH
    totals = result.totals
    if strict and (totals.unverified_layers or totals.unattributed or result.model.caveats or result.macs_missing):
        return EXIT_MISMATCH
    return EXIT_OK


def error_line(err: BaseException) -> str:
    """One line about `err`: an InputError's own message, else its type and first line and a --debug hint."""
    from auditor.errors import InputError

    if isinstance(err, InputError):
        return " ".join(str(err).split())
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''} (rerun with --debug for details)"


def audit_one(spec: str, options: AuditOptions, fmt: str) -> Outcome:
    """Audit and render one model; never raises (an error is an Outcome with status "error")."""
    import auditor
    from auditor.report import audit_to_dict

    start = time.perf_counter()
    try:
        result = auditor.audit(spec, options)
        document = audit_to_dict(result) if fmt == "json" else {}
        text = "" if fmt == "json" else _render(result, fmt, options.depth)
    except Exception as err:  # noqa: BLE001 - one bad model never stops the batch
        return Outcome(spec, EXIT_BAD_INPUT, time.perf_counter() - start, "error",
                       document={"source": spec, "error": error_line(err)}, error=error_line(err),
                       details=traceback.format_exc() if options.debug else "")
    totals = result.totals
    status = "mismatch" if not result.consistent else "unverified" if totals.unverified_layers else "ok"
    return Outcome(spec, exit_code(result, options.strict), time.perf_counter() - start, status, text, document,
                   result.model.name, totals.reported, totals.verified_fraction)


def _render(result: Any, fmt: str, depth: int) -> str:
    """One model's part of the batch output: a CSV block with a model column, an HTML <section>, or text."""
    from auditor.report import render_audit

    if fmt == "html":
        from auditor.report.html import audit_section

        return audit_section(result, depth, heading="h2")
    return render_audit(result, fmt, depth=depth, model_column=True)


def _died(spec: str, err: BaseException) -> Outcome:
    line = f"{spec}: the worker process auditing it died ({type(err).__name__}); audit it alone to see why"
    return Outcome(spec, EXIT_BAD_INPUT, 0.0, "error", document={"source": spec, "error": line}, error=line)


def _context(specs: Sequence[str] = ()) -> Any:
    """How workers start.  fork (instant, the parent's imports shared) while no thread runs in this process
    and no framework that starts them is imported; else forkserver (spawn where there is none), whose server
    imports once what every worker needs.  torch and TensorFlow are not safe to fork once imported."""
    import multiprocessing
    import sys
    import threading

    from adapters import fork_safe_imports

    preload = ["auditor.batch", "auditor.loader", "auditor.count", "auditor.report", *fork_safe_imports(specs)]
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and not any(m in sys.modules for m in UNFORKABLE):
        import importlib

        for module in preload:
            importlib.import_module(module)
        if threading.active_count() == 1:  # the preloads started no thread either
            return multiprocessing.get_context("fork")
    method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(preload)
    return context


UNFORKABLE = ("torch", "tensorflow", "jax")
"""Frameworks whose import may start threads (OpenMP, TF's runtime): a process holding one must not fork."""


def _pooled(specs: Sequence[str], options: AuditOptions, fmt: str, jobs: int) -> Iterator[tuple[int, Outcome]]:
    """(index, outcome) as the pool finishes them; after a worker dies, the unfinished ones run one by one,
    each in a fresh process, so the model that kills its worker is the only one reported as such."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pending: dict[Future[Outcome], int] = {}
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_context(specs)) as pool:
        for index, spec in enumerate(specs):
            pending[pool.submit(audit_one, spec, options, fmt)] = index
        for future in as_completed(pending):
            try:
                yield pending[future], future.result()
            except BrokenProcessPool:
                broken.append(pending[future])
    for index in sorted(broken):
        yield index, _alone(specs[index], options, fmt)


def _alone(spec: str, options: AuditOptions, fmt: str) -> Outcome:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1, mp_context=_context()) as pool:
        try:
            return pool.submit(audit_one, spec, options, fmt).result()
        except BrokenProcessPool as err:
            return _died(spec, err)


def outcomes(specs: Sequence[str], options: AuditOptions, fmt: str, jobs: int = 1,
             on_done: Callable[[Outcome], None] | None = None) -> Iterator[Outcome]:
    """Every model's Outcome, in input order (each as soon as it and all before it are done);
    `on_done` is called as each one finishes, in whatever order they finish (a progress bar)."""
    if jobs <= 1 or len(specs) <= 1:
        for spec in specs:
            outcome = audit_one(spec, options, fmt)
            if on_done is not None:
                on_done(outcome)
            yield outcome
        return
    finished: dict[int, Outcome] = {}
    next_index = 0
    for index, outcome in _pooled(specs, options, fmt, min(jobs, len(specs))):
        finished[index] = outcome
        if on_done is not None:
            on_done(outcome)
        while next_index in finished:
            yield finished.pop(next_index)
            next_index += 1


class Progress:
    """A tqdm bar on a terminal's stderr (nothing otherwise); `write` prints a line without tearing the bar."""

    def __init__(self, total: int, stream: Any) -> None:
        self.stream = stream
        self.bar: Any = None
        if total > 1 and hasattr(stream, "isatty") and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=stream, unit="model", dynamic_ncols=True, leave=False)

    def advance(self, outcome: Outcome) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(os.path.basename(outcome.spec), refresh=False)
            self.bar.update(1)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def default_jobs() -> int:
    """The cores this process may use (`--jobs 0`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
