"""A flaky test and a stably failing one, for the host's re-run code (kvmatrix.run.process.reruns).

They only run when KVCC_FLAKY_COUNTER names a counter file (set by tests/integration/test_reruns.py, which runs
them through the cell runner's re-runs); otherwise they are n/a, so collecting them by accident harms
nothing. The counter persists across the fresh processes of the re-runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

COUNTER = os.environ.get("KVCC_FLAKY_COUNTER")
pytestmark = pytest.mark.skipif(not COUNTER, reason="n/a: the flaky-test counter is not set")


def next_run_number() -> int:
    """1 on the first run, then 2, 3, ...: counted in the file KVCC_FLAKY_COUNTER names."""
    counter = Path(str(COUNTER))
    number = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(number))
    return number


def test_fails_on_odd_numbered_runs() -> None:
    number = next_run_number()
    assert number % 2 == 0, f"run {number} is odd-numbered"


def test_always_fails() -> None:
    pytest.fail("fails on every run")
