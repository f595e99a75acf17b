"""Test tiers, and the fixtures of the host tests.

Unit tests (the default while coding: `nox -s unit`, seconds) touch no process but their own; integration
tests start the real tools: cell runs under pytest-xdist, uv, nox, tox, a local package index,
actionlint/zizmor, the wheel build, headless Chromium. CI runs both (`nox -t tests`). The tier is the
folder: every test under tests/integration, tests/browser or tests/parity is integration.

tests/compat runs inside cells with torch and reads this file too, so it imports nothing those environments
lack: the host fixtures below import the record builder (tests/support/records.py) when they are used.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kvmatrix.plan.pins import Pins

TESTS = Path(__file__).resolve().parent
INTEGRATION_FOLDERS = {"integration", "browser", "parity"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the integration tests: those of the integration folders (see the module docstring)."""
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(TESTS) and path.relative_to(TESTS).parts[0] in INTEGRATION_FOLDERS:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def own_bytecode_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by the tests share their bytecode in a store of the test session's own, never in the
    user's cache (kvmatrix.run.env.bytecode_store)."""
    monkeypatch.setenv("KVCC_BYTECODE_STORE", str(tmp_path_factory.getbasetemp() / "bytecode-store"))


@pytest.fixture
def suites() -> list[str]:
    """The suite columns of the fixture cells (a real run's come from kvmatrix.record.columns.discover_suites)."""
    from tests.support.records import SUITES

    return SUITES


@pytest.fixture
def pins_file(tmp_path: Path) -> Path:
    """A valid three-cell pins file."""
    from tests.support.records import PINS_TOML

    path = tmp_path / "pins.toml"
    path.write_text(PINS_TOML)
    return path


@pytest.fixture
def pins(pins_file: Path) -> Pins:
    """The loaded three-cell pins."""
    from kvmatrix.plan.pins import load_pins

    return load_pins(pins_file)


@pytest.fixture
def pinned(pins_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """KVCC_PINS names the three-cell pins file, whose second cell is the `ran_cell` fixture's."""
    monkeypatch.setenv("KVCC_PINS", str(pins_file))
    return pins_file


@pytest.fixture
def ran_cell() -> dict[str, Any]:
    """tf4.57.6-torch2.13.0, which ran both modes (see tests.support.records.example_runs)."""
    from tests.support.records import REGISTRATION_REPORT, build_cell, example_runs

    return build_cell("4.57.6", "2.13.0", example_runs(), registration_report=REGISTRATION_REPORT)


@pytest.fixture
def uninstallable_cell() -> dict[str, Any]:
    """tf4.46.3-torch2.5.1, whose pins could not be installed together."""
    from tests.support.records import build_cell

    reason = "ResolutionImpossible: transformers 4.46.3 requires tokenizers<0.21,>=0.20"
    return build_cell("4.46.3", "2.5.1", {}, status="not-installable", status_reason=reason)


@pytest.fixture
def make_cell() -> Callable[..., dict[str, Any]]:
    """The cell builder (tests.support.records.build_cell), for tests that need their own cells."""
    from tests.support.records import build_cell

    return build_cell


@pytest.fixture
def published() -> Callable[..., Any]:
    """`tests.support.records.publish_records`, for tests that build their own matrices."""
    from tests.support.records import publish_records

    return publish_records


@pytest.fixture
def matrix(both: tuple[dict, dict]) -> dict[str, Any]:
    """The matrix half of a module's `both` fixture (published matrix, its details)."""
    return both[0]


@pytest.fixture
def details(both: tuple[dict, dict]) -> dict[str, dict[str, Any]]:
    """The details half of a module's `both` fixture."""
    return both[1]


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of wheels that is uv's only source (no index, no cache, no PyTorch CPU index)."""
    from kvmatrix.run.inputs import RECORDED_SETTINGS
    from tests.support.wheels import make_wheel

    folder = tmp_path / "wheels"
    make_wheel(folder, "alpha", "1.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("UV_NO_CACHE", "1")
    monkeypatch.setenv("KVCC_CPU_WHEELS", "0")
    for name in [*RECORDED_SETTINGS, "UV_TORCH_BACKEND"]:
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the code of this checkout: the suites, the library, all of kvmatrix and pyproject.toml."""
    from kvmatrix import REPO_ROOT

    root = tmp_path / "checkout"
    for name in ("suites", "compat", "kvmatrix"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root
