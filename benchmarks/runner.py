"""Parent side: every measurement in a fresh child process, with a time limit; files cleaned up after."""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from benchmarks.cases import Case
from benchmarks.measure import Row, quiet_env
from benchmarks.tools import TOOLS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 900.0
    tools: tuple[str, ...] = ()
    """Only these tools (empty: all of the case's family)."""


PACKAGES = ("auditor", "adapters", "benchmarks", "reference_models")


def compile_sources() -> None:
    """Byte-compile this checkout's packages once before measuring, as `pip install` does for the peers'."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(os.path.join(REPO, package), quiet=1)


def run_child(case: str, tool: str, folder: str, timeout_s: float) -> Row:
    """Run `benchmarks.run_case` in a fresh interpreter; a crash or timeout becomes a failed row."""
    result = os.path.join(folder, f".result-{tool}.json")
    log = os.path.join(folder, f".stderr-{tool}.txt")
    start, cpu = time.perf_counter(), _children_cpu()
    with open(log, "w") as err:
        try:
            code = subprocess.run([sys.executable, "-m", "benchmarks.run_case", case, tool, folder, result],
                                  cwd=REPO, env=quiet_env(), stdout=subprocess.DEVNULL, stderr=err,
                                  timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            return Row(case, tool, status="timeout", error=f"no result after {timeout_s:.0f} s")
    elapsed, used = round(time.perf_counter() - start, 3), round(_children_cpu() - cpu, 3)
    if not os.path.exists(result):
        return Row(case, tool, status="failed", error=f"child exited {code}: {_last_line(log)}", process_s=elapsed,
                   process_cpu_s=used)
    with open(result) as data:
        row = Row.from_dict(json.load(data))
    os.remove(result)
    row.process_s, row.process_cpu_s = elapsed, used
    return row


def _children_cpu() -> float:
    """User + system CPU seconds of every child this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_row(runs: list[Row]) -> Row:
    """The run with the median tool time (a failure wins: it is what a user would meet); all times kept."""
    failed = [r for r in runs if r.status != "ok" or r.tool_s is None]
    if failed or len(runs) == 1:
        return failed[0] if failed else runs[0]
    ordered = sorted(runs, key=lambda r: r.tool_s or 0.0)
    chosen = ordered[len(ordered) // 2]
    chosen.extra["runs_s"] = [r.tool_s for r in runs]
    chosen.note += f"; median of {len(runs)}: " + ", ".join(f"{r.tool_s:.2f}" for r in runs) + " s"
    cpus = [r.tool_cpu_s for r in runs if r.tool_cpu_s is not None]
    if len(cpus) == len(runs):  # the CPU time's own median, as the in-process targets compare it
        chosen.tool_cpu_s = statistics.median(cpus)
    threads = [r.tool_thread_cpu_s for r in runs if r.tool_thread_cpu_s is not None]
    if len(threads) == len(runs):
        chosen.tool_thread_cpu_s = statistics.median(threads)
        chosen.extra["thread_runs_s"] = threads  # in round order: a target may pair them with another tool's
    wholes = [r.process_s for r in runs if r.process_s is not None]
    if len(wholes) == len(runs):  # the whole process's own median, not the one of the median tool run
        chosen.extra["process_runs_s"] = wholes
        chosen.process_s = statistics.median(wholes)
        chosen.process_cpu_s = statistics.median(r.process_cpu_s or 0.0 for r in runs)
    return chosen


def _last_line(path: str) -> str:
    with open(path, errors="replace") as text:
        lines = [line.strip() for line in text if line.strip()]
    return lines[-1][:160] if lines else "no output (killed?)"


def run_case(case: Case, limits: Limits, on_row: Callable[[Row], None]) -> Iterator[Row]:
    """Prepare the case's file (if any), measure each tool (`repeat` rounds over all of them), then delete the
    work folder."""
    folder = tempfile.mkdtemp(prefix=f"nn-auditor-bench-{case.name}-")
    try:
        if case.prepare is not None:
            prepared = run_child(case.name, "prepare", folder, limits.timeout_s)
            on_row(prepared)
            yield prepared
            if prepared.status != "ok":
                return
        tools = [tool for tool in TOOLS[case.family] if not limits.tools or tool in limits.tools]
        runs: dict[str, list[Row]] = {tool: [] for tool in tools}
        for round_ in range(case.repeat):  # rounds over every tool, so a change of load hits them all alike,
            for tool in tools if round_ % 2 == 0 else tools[::-1]:  # in turn first and last in a round
                runs[tool].append(run_child(case.name, tool, folder, limits.timeout_s))
        for tool in tools:
            row = median_row(runs[tool])
            on_row(row)
            yield row
    finally:
        shutil.rmtree(folder, ignore_errors=True)
