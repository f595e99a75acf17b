"""pyproject.toml's dependency groups are the one list of what the cells and the nox sessions install."""

from __future__ import annotations

import tomllib

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import Cell
from kvmatrix.run.cell import requirements


def test_a_cell_installs_its_pins_and_the_suites_group() -> None:
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    wanted = requirements(Cell.from_id("tf4.57.6-torch2.13.0"))
    assert wanted == ["torch==2.13.0", "transformers==4.57.6", *groups["suites"]]
    # the strings every recorded cell resolved with: a change here re-runs (and may move) every verdict
    assert groups["suites"] == ["pytest>=8", "pytest-xdist>=3", "pytest-timeout>=2", "hypothesis>=6", "setuptools"]
