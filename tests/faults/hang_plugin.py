"""Fault injection for a whole matrix run: `KVCC_EXTRA_PLUGINS=tests.faults.hang_plugin` with
`KVCC_HANG_CELL=<cell id>` and `KVCC_HANG_TEST=<substring of a test id>` makes that test, in that cell only,
hang inside one C call that holds the GIL (`sum(range(10**13))`), where pytest-timeout's signal never runs.
A run proves that the hang guard ends the test as `error` (hang) while the rest of the cell still reports,
and that no other cell is touched. It does nothing anywhere else.
"""

from __future__ import annotations

import os

import pytest

from tests.faults.installed_cell import cell_id


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Hang in C in the chosen test of the chosen cell."""
    target = os.environ.get("KVCC_HANG_TEST")
    if target and target in item.nodeid and os.environ.get("KVCC_HANG_CELL") == cell_id():
        assert sum(range(10**13))
