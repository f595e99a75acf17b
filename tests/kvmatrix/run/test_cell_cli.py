"""Replaying a recorded cell: `python -m kvmatrix.run.cell_cli --constraints FILE` installs every package at
the version the run's freeze (its detail file) recorded (with real uv against PyPI:
tests/integration/test_cell_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvmatrix.run.cell_cli import constraints_file, main
from tests.support.records import FROZEN_DETAIL as DETAIL


def test_a_detail_file_becomes_the_constraints_of_its_freeze(tmp_path: Path) -> None:
    detail = tmp_path / "tf4.57.6-torch2.13.0.json"
    detail.write_text(json.dumps(DETAIL))
    written = constraints_file(detail, tmp_path / "work")
    assert written == tmp_path / "work" / "constraints.txt"
    assert written.read_text() == "six==1.16.0\ntorch==2.13.0+cpu\n"


def test_a_constraints_file_is_used_as_it_is(tmp_path: Path) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("six==1.16.0\n")
    assert constraints_file(constraints, tmp_path / "work") == constraints
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"id": "x"}), json.dumps({"freeze": "six"})],
                         ids=["missing", "not-json", "no-freeze", "freeze-not-a-list"])
def test_unreadable_constraints_stop_the_cell_before_anything_is_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "detail.json"
    if content is not None:
        path.write_text(content)
    results = tmp_path / "results"
    status = main(["--pair", "tf4.57.6-torch2.13.0", "--constraints", str(path), "--results", str(results),
                   "--envs", str(tmp_path / "envs")])
    assert status == 2
    assert capsys.readouterr().err.startswith(f"error: cannot read the constraints of {path}: ")
    assert not (tmp_path / "envs").exists() and not (results / "tf4.57.6-torch2.13.0.json").exists()
