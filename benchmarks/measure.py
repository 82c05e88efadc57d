"""What one measurement records, and the helpers the child process uses to record it honestly."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any

HEAVY_MODULES = ("torch", "tensorflow", "keras", "jax")
"""Frameworks whose import alone costs seconds; an ONNX audit should import none of them."""


@dataclass
class Numbers:
    """What a tool answered: parameter count and MACs (multiply-accumulates), converted explicitly."""

    params: int | None = None
    macs: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One (case, tool) measurement taken in its own process."""

    case: str
    tool: str
    status: str = "ok"
    """ok | failed | timeout | skipped."""
    error: str = ""
    tool_s: float | None = None
    """Wall time of the tool's own work (its import included, the model's construction excluded)."""
    tool_cpu_s: float | None = None
    """CPU time of the same work (the child's own; a subprocess the tool starts is in process_cpu_s)."""
    tool_thread_cpu_s: float | None = None
    """CPU time of the main thread alone over the same work: what the tool itself computed, without the
    threads a library starts on import (numpy's OpenBLAS workers spin for ~0.1 s after it)."""
    setup_s: float | None = None
    """Interpreter-side setup in the child: framework import and model construction."""
    process_s: float | None = None
    """Spawn to exit, measured by the parent."""
    process_cpu_s: float | None = None
    """CPU time of the child and of its own children, spawn to exit (user + system)."""
    rss_before_mb: float | None = None
    peak_mb: float | None = None
    """Peak resident memory of the whole child process (VmHWM), setup included."""
    params: int | None = None
    macs: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _status_kb(key: str) -> int | None:
    """A `/proc/self/status` field in kB (VmHWM, VmRSS), or None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size in MB."""
    kb = _status_kb("VmRSS")
    return round((kb if kb is not None else 0) / 1024, 1)


def peak_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM, else ru_maxrss)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


def children_peak_mb() -> float:
    """Largest peak RSS among this process's waited-for children, in MB."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def heavy_imports() -> list[str]:
    """Which heavy frameworks this process has imported so far."""
    import sys

    return [name for name in HEAVY_MODULES if name in sys.modules]


@dataclass
class Stopwatch:
    """Elapsed wall time of a `with` block."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time (user + system) of this process during the block: what load on shared cores does not inflate."""
    thread_cpu_seconds: float = 0.0
    """CPU time of the calling thread alone during the block."""

    @contextmanager
    def timing(self) -> Iterator[None]:
        start, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
        try:
            yield
        finally:
            self.seconds = time.perf_counter() - start
            self.cpu_seconds = time.process_time() - cpu
            self.thread_cpu_seconds = time.thread_time() - thread


def first_line(err: BaseException) -> str:
    """The exception as one short line (type and first message line), its root cause appended."""
    text = str(err).strip().splitlines()
    line = f"{type(err).__name__}: {text[0][:120]}" if text else type(err).__name__
    cause = err
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    return line if cause is err else f"{first_line(cause)} (raised as {type(err).__name__})"


def quiet_env() -> dict[str, str]:
    """Environment for children: no TensorFlow/absl chatter, one wide terminal for Keras summary(), and
    bytecode cached as an installed package has it (a shell may set PYTHONDONTWRITEBYTECODE, which would
    make nn-auditor's modules compile on every run while the peers' installed ones load their .pyc)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200", "PYTHONWARNINGS": "ignore",
                "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env
