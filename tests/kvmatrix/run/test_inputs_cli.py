"""The workflow's entry point to a cell's inputs: the key, the reuse and the cacheable check of one cell,
with the exit statuses the cell job's steps branch on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.plan.resolved import write_resolved
from kvmatrix.run.inputs_cli import main
from tests.support.records import RAN_CELL_ID as CELL_ID


def test_a_cell_the_pins_file_lacks_is_status_2(pinned: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["key", "tf9.9.9-torch9.9.9"]) == 2
    assert "no cell with id tf9.9.9-torch9.9.9" in capsys.readouterr().err


def test_unknown_inputs_print_unknown_with_status_1(
    pinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["key", CELL_ID, "--python", str(tmp_path / "no-python")]) == 1
    assert capsys.readouterr().out.strip() == "unknown"


def test_resolved_pins_name_the_cells_instead_of_the_pins_file(
    pinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    grid_cell = Cell(transformers="5.25.0", torch="2.15.0")
    resolved = tmp_path / "pins-full.json"
    write_resolved(Pins(path=str(tmp_path / "pins-full.toml"), python="3.11", cells=(grid_cell,)), resolved)
    assert main(["--resolved", str(resolved), "key", CELL_ID]) == 2  # a cell of the pins file, not of the grid
    assert f"no cell with id {CELL_ID}" in capsys.readouterr().err
    assert main(["--resolved", str(resolved), "key", grid_cell.id, "--python", str(tmp_path / "no-python")]) == 1
    assert capsys.readouterr().out.strip() == "unknown"


def test_reuse_with_unknown_inputs_runs_the_cell_and_removes_the_restored_result(
    pinned: Path, tmp_path: Path, ran_cell: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    results = tmp_path / "cells"
    results.mkdir()
    (results / f"{CELL_ID}.json").write_text(json.dumps(ran_cell))
    status = main(["reuse", CELL_ID, "--results", str(results), "--reports", str(tmp_path / "reports"),
                   "--python", str(tmp_path / "no-python")])
    assert status == 1
    assert "cannot be told" in capsys.readouterr().out
    assert not (results / f"{CELL_ID}.json").exists()


def test_a_result_is_not_cacheable_when_the_inputs_cannot_be_told(
    pinned: Path, tmp_path: Path, ran_cell: dict[str, Any]
) -> None:
    (tmp_path / f"{CELL_ID}.json").write_text(json.dumps(ran_cell))
    assert main(["cacheable", CELL_ID, "--results", str(tmp_path), "--python", str(tmp_path / "no-python")]) == 1
