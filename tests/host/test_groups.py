"""pyproject.toml's dependency groups are the one list of what the cells and the nox sessions install."""

from __future__ import annotations

import tomllib
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.groups import dependency_group
from kvmatrix.plan.pins import Cell
from kvmatrix.run.cell import requirements


def test_a_cell_installs_its_pins_and_the_suites_group() -> None:
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    wanted = requirements(Cell.from_id("tf4.57.6-torch2.13.0"))
    assert wanted == ["torch==2.13.0", "transformers==4.57.6", *groups["suites"]]
    # the strings every recorded cell resolved with: a change here re-runs (and may move) every verdict
    assert groups["suites"] == ["pytest>=8", "pytest-xdist>=3", "pytest-timeout>=2", "hypothesis>=6", "setuptools"]


def test_an_included_group_is_expanded_in_place(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\nbase = ["a>=1", "b"]\nmore = ["c", { include-group = "base" }, "d==2"]\n')
    assert dependency_group("more", tmp_path) == ("c", "a>=1", "b", "d==2")
