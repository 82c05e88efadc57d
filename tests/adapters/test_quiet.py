"""silenced_stderr: file descriptor 2 discarded inside the block, restored after, errors propagate;
quiet_loggers: library loggers raised for the block and put back."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from adapters.quiet import quiet_loggers, silenced_stderr


def test_writes_to_descriptor_2_are_discarded_and_stderr_comes_back(capfd):
    with silenced_stderr():
        os.write(2, b"absl chatter from C++\n")
        print("python-level warning", file=sys.stderr)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_disabled_lets_everything_through(capfd):
    with silenced_stderr(enabled=False):
        os.write(2, b"kept\n")
    assert capfd.readouterr().err == "kept\n"


def test_an_error_inside_propagates_after_stderr_is_restored(capfd):
    before = os.fstat(2).st_ino
    with pytest.raises(ImportError, match="libcudart"):
        with silenced_stderr():
            os.write(2, b"noise\n")
            raise ImportError("libcudart.so.12: cannot open shared object file")
    os.write(2, b"the one line\n")
    assert capfd.readouterr().err == "the one line\n"
    assert os.fstat(2).st_ino == before


def test_quiet_loggers_raise_each_named_logger_and_put_its_level_back():
    chatty, advice = logging.getLogger("nn_auditor_test.chatty"), logging.getLogger("nn_auditor_test.advice")
    chatty.setLevel(logging.DEBUG)
    with pytest.raises(RuntimeError), quiet_loggers("nn_auditor_test.chatty", "nn_auditor_test.advice",
                                                   level=logging.ERROR):
        assert chatty.level == advice.level == logging.ERROR
        raise RuntimeError("the block fails")
    assert chatty.level == logging.DEBUG and advice.level == logging.NOTSET
