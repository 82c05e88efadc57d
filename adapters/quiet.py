"""Keep frameworks' chatter off the user's stderr: their start-up lines and their loggers.

Library loggers (`quiet_loggers`): torch.export logs a traceback before raising on a bad archive, fake
tensors one per operator they cannot run, transformers advice while building; the audit's one-line
error or note says what matters.  TensorFlow's C++ runtime writes "All log messages before absl::InitializeLog() ...", its CPU-feature
notice and (on some builds) a cudart_stub line straight to file descriptor 2 when it is imported,
whatever TF_CPP_MIN_LOG_LEVEL says, so only redirecting the descriptor itself silences it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

CRITICAL = 50
"""`logging.CRITICAL`, spelled out so that importing this module does not import `logging`."""


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):  # a closed or replaced sys.stderr has nothing to flush
        sys.stderr.flush()


@contextlib.contextmanager
def silenced_stderr(enabled: bool = True) -> Iterator[None]:
    """Inside the block, whatever anyone writes to file descriptor 2 is discarded (`enabled=False`: kept).

    An exception raised inside propagates after the descriptor is restored, so the caller's one-line
    error still reaches the user.
    """
    if not enabled:
        yield
        return
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all (a detached process): nothing to silence
        yield
        return
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 2)
        with open(os.devnull, "w") as python_sink, contextlib.redirect_stderr(python_sink):
            yield  # (sys.stderr too: under pytest or Jupyter it is not descriptor 2)
    finally:
        _flush_stderr()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = CRITICAL) -> Iterator[None]:
    """Raise the named loggers to `level` inside the block, and put each back after."""
    import logging  # here, not at the top: a file read that needs no logger (ONNX) never imports logging

    loggers = [logging.getLogger(name) for name in names]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, before in zip(loggers, previous):
            logger.setLevel(before)
