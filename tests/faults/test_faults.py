"""Tests that fail the way a cell can fail for real: a segfault, an abort, a hang, memory exhaustion.

They only misbehave when KVCC_INJECT_FAULTS=1 (set by tests/host/test_fault_isolation.py, which runs them
through the cell runner); otherwise they are n/a, so collecting them by accident harms nothing.
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
    time.sleep(3600)


def test_memory_exhaustion() -> None:
    hog = bytearray(64 * 2**30)
    assert hog


def test_after_the_faults_passes() -> None:
    assert "still" in "still running"
