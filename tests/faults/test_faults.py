"""Tests that fail the way a cell can fail for real: a segfault, an abort, a hang inside C code, a hang in
Python, memory exhaustion.

They only misbehave when KVCC_INJECT_FAULTS=1 (set by tests/integration/test_pytest_run_faults.py, which runs them
through the cell runner); otherwise they are n/a, so collecting them by accident harms nothing. Each needs
its isolation to be reported as an error: `test_hang` holds the GIL inside C code, where pytest-timeout
cannot interrupt it; `test_memory_exhaustion` asks for an amount any machine that runs these tests can
give, so it only fails under a KVCC_MEMORY_LIMIT_GB smaller than HOG_BYTES.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

INJECT = os.environ.get("KVCC_INJECT_FAULTS") == "1"
pytestmark = pytest.mark.skipif(not INJECT, reason="n/a: fault injection is off")


def test_before_the_faults_passes() -> None:
    assert 1 + 1 == 2


def test_segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def test_abort() -> None:
    os.abort()


def test_hang() -> None:
    pid_file = os.environ.get("KVCC_FAULT_PID_FILE")
    if pid_file:  # the host checks that this process does not outlive its run
        with open(pid_file, "w") as out:
            out.write(str(os.getpid()))
    assert sum(range(10**13))  # one C call holding the GIL: no signal handler or other thread runs


def test_hang_in_python() -> None:
    time.sleep(3600)


HOG_BYTES = 2**30
"""1 GiB, more than the fault run's memory limit (tests/integration/test_pytest_run_faults.py)."""


def test_memory_exhaustion() -> None:
    hog = bytearray(HOG_BYTES)
    assert hog


def test_after_the_faults_passes() -> None:
    assert "still" in "still running"
