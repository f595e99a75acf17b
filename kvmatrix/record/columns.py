"""The matrix's suite columns: one per `suites/test_<name>.py` of the checkout, found from the files, so a
new suite file is a new column of matrix.json, matrix.md, the page, the badges and the history."""

from __future__ import annotations

from pathlib import Path

from kvmatrix import REPO_ROOT

SUITE_PREFIX = "test_"


def discover_suites(root: Path = REPO_ROOT) -> list[str]:
    """The suite names of `root`/suites (`test_export.py` -> `export`), sorted alphabetically; a checkout
    without any suite file raises ValueError (its matrix would have no column)."""
    folder = root / "suites"
    names = sorted(path.stem.removeprefix(SUITE_PREFIX) for path in folder.glob(f"{SUITE_PREFIX}*.py"))
    if not names:
        raise ValueError(f"no suite file {folder}/{SUITE_PREFIX}*.py: the matrix would have no column")
    return names


def suite_of(nodeid: str) -> str:
    """The suite a test or suite file belongs to: `suites/test_export.py::test_x[...]` -> `export`."""
    return Path(nodeid.split("::")[0]).stem.removeprefix(SUITE_PREFIX)
