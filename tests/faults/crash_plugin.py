"""Fault injection for a whole matrix run: `KVCC_EXTRA_PLUGINS=tests.faults.crash_plugin` with
`KVCC_CRASH_CELL=<cell id>` makes every xdist worker of that cell segfault in the first test it runs (each
restarted worker crashes again), so a run proves that a cell that keeps crashing still reports every test
as `error` with its cause, and that every other cell is untouched. It does nothing in any other cell.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.installed_cell import cell_id

_crashed = False



@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Segfault in the first test this worker runs, in the chosen cell."""
    global _crashed
    if not _crashed and os.environ.get("KVCC_CRASH_CELL") == cell_id():
        _crashed = True
        os.kill(os.getpid(), signal.SIGSEGV)
