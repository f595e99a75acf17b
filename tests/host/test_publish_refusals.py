"""Publish refuses, writing nothing, a run whose cell results cannot be trusted to replace the published
matrix: no requested cell left a result, or a result file is not one JSON object."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.publish.publish_run import IncompleteRun, publish
from kvmatrix.record.matrix import ReportError

LIST = Cell(transformers="4.53.3", torch="2.13.0")
LAYER = Cell(transformers="4.57.6", torch="2.13.0")
PINS = Pins(python="3.11", cells=(LIST, LAYER), path="pins.toml")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its content."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """An existing reports folder (a refused publish must leave it as it is)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "kept.txt").write_text("published before\n")
    return folder


@pytest.mark.parametrize("cells", [PINS.cells, (LAYER,), ()], ids=["all", "one", "none requested"])
def test_a_run_in_which_no_requested_cell_left_a_result_is_refused(
    tmp_path: Path, reports: Path, cells: tuple[Cell, ...]
) -> None:
    before = tree(reports)
    with pytest.raises(IncompleteRun) as refused:
        publish(PINS, cells, tmp_path / "cells", reports)
    message = str(refused.value)
    assert message.startswith("refusing to publish: no requested cell left a result file in ")
    assert message.endswith("; nothing was written") and "\n" not in message
    assert tree(reports) == before


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"id": "tf4.53.3-torch2.13.0", "status": "ra', "is not valid JSON (Unterminated string"),
        ("", "is not valid JSON (Expecting value at line 1 column 1); is the file truncated?"),
        ("[]", "a cell result must be a JSON object, found an array"),
        ('"ran"', "a cell result must be a JSON object, found a string"),
        ("null", "a cell result must be a JSON object, found null"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["truncated", "empty", "array", "string", "null", "deeply nested"],
)
def test_a_corrupt_cell_result_is_one_error_naming_the_file_and_nothing_is_written(
    tmp_path: Path, reports: Path, content: str, problem: str
) -> None:
    results = tmp_path / "cells"
    results.mkdir()
    (results / f"{LIST.id}.json").write_text(content)
    before = tree(reports)
    with pytest.raises(ReportError) as refused:
        publish(PINS, PINS.cells, results, reports)
    message = str(refused.value)
    assert message.startswith(f"{results / f'{LIST.id}.json'}: ") and problem in message
    assert "\n" not in message
    assert tree(reports) == before
