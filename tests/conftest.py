"""Test tiers. Unit tests (the default while coding: `nox -s unit`, seconds) touch no process but their
own; integration tests start the real tools: cell runs under pytest-xdist, uv, nox, tox, a local package
index, actionlint/zizmor, the wheel build, headless Chromium. CI runs both (`nox -t tests`).

A module is integration when it is listed here or lives in tests/browser or tests/parity; a single test
can also carry `@pytest.mark.integration` itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_MODULES = {
    "test_environments.py", "test_fault_isolation.py", "test_install.py", "test_noxfile.py",
    "test_packaging.py", "test_resolved.py", "test_toxgen.py", "test_workflows.py",
}
INTEGRATION_FOLDERS = {"browser", "parity"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the integration tests (see the module docstring)."""
    for item in items:
        path = Path(str(item.path))
        if path.name in INTEGRATION_MODULES or path.parent.name in INTEGRATION_FOLDERS:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def own_bytecode_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by the tests share their bytecode in a store of the test session's own, never in the
    user's cache (kvmatrix.run.env.bytecode_store)."""
    monkeypatch.setenv("KVCC_BYTECODE_STORE", str(tmp_path_factory.getbasetemp() / "bytecode-store"))
