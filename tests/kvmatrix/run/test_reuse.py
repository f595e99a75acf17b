"""A cell whose inputs key matches its previous result is not run: the result (from the results folder,
else the published matrix) is reused and marked with the run it came from; a changed key, unknown inputs
or `--fresh` run it. The inputs are given here (the orchestration is under test; tests/kvmatrix/run/test_inputs.py
proves the key itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins, load_pins
from kvmatrix.publish.publish_run import publish
from kvmatrix.run.reuse import reuse_or_run

CELL = Cell.from_id("tf4.57.6-torch2.13.0")
FINISHED = "2026-11-30T21:00:00Z"


def inputs(key: str, code: str = "c1", resolved: tuple[str, ...] = ("torch==2.13.0+cpu",)) -> dict[str, Any]:
    """Inputs with the key `key` and parts that say what differs."""
    return {"key": key, "parts": {"resolved": list(resolved), "python": "3.11.7", "code": code,
                                  "settings": {}, "selection": None}}


@pytest.fixture
def result(ran_cell: dict[str, Any]):
    """A full record of CELL from a run whose inputs had the given key (None: a record from before inputs)."""
    def make(key: str | None, **parts: Any) -> dict[str, Any]:
        record = json.loads(json.dumps(ran_cell))
        if key is not None:
            record.update(inputs=inputs(key, **parts), finished_at=FINISHED, reused_from=None)
        return record
    return make


def write(results: Path, record: dict[str, Any]) -> Path:
    """`record` as its cell's result file in `results`."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{record['id']}.json"
    path.write_text(json.dumps(record))
    return path


def decide_one(tmp_path: Path, now: dict[str, Any] | None, fresh: bool = False):
    """(decision, the cell's result afterwards or None) of CELL with current inputs `now`."""
    results = tmp_path / "cells"
    asked = []

    def inputs_of(cell: Cell) -> dict[str, Any] | None:
        asked.append(cell.id)
        return now

    (decision,) = reuse_or_run((CELL,), inputs_of, results, tmp_path / "reports", fresh)
    path = results / f"{CELL.id}.json"
    assert asked == ([] if fresh else [CELL.id])
    return decision, json.loads(path.read_text()) if path.exists() else None


def test_a_result_with_the_same_key_is_reused_and_marked_with_its_run(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", result("k1"))
    decision, reused = decide_one(tmp_path, inputs("k1"))
    assert not decision.run
    assert reused == {**result("k1"), "reused_from": FINISHED}
    assert f"reused the result of the run finished at {FINISHED}" in decision.line


def test_a_reused_result_reused_again_still_names_the_run_that_made_it(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", {**result("k1"), "finished_at": FINISHED, "reused_from": "2026-01-01T00:00:00Z"})
    _, reused = decide_one(tmp_path, inputs("k1"))
    assert reused["reused_from"] == "2026-01-01T00:00:00Z"


def test_a_changed_key_runs_the_cell_and_says_which_part_changed(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", result("k1"))
    decision, left = decide_one(tmp_path, inputs("k2", code="c2"))
    assert decision.run
    assert left is None  # the stale result is gone: publish never takes it for this run's
    assert decision.line.endswith(": code)")


def test_fresh_runs_a_cell_whose_key_matches(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", result("k1"))
    decision, left = decide_one(tmp_path, inputs("k1"), fresh=True)
    assert decision.run and left is None
    assert "--fresh" in decision.line


def test_unknown_inputs_run_the_cell_even_beside_a_previous_result(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", result("k1"))
    decision, left = decide_one(tmp_path, None)
    assert decision.run and left is None
    assert "cannot be told" in decision.line


@pytest.mark.parametrize("has_previous,why", [(False, "no previous result"), (True, "records no inputs")])
def test_a_cell_without_a_comparable_previous_result_runs(
    tmp_path: Path, result, has_previous: bool, why: str
) -> None:
    if has_previous:
        write(tmp_path / "cells", result(None))
    decision, _ = decide_one(tmp_path, inputs("k1"))
    assert decision.run
    assert why in decision.line


def test_a_result_of_another_cell_is_not_reused(tmp_path: Path, result) -> None:
    write(tmp_path / "cells", {**result("k1"), "id": CELL.id, "pins": {"transformers": "4.46.3", "torch": "2.13.0"}})
    decision, _ = decide_one(tmp_path, inputs("k1"))
    assert decision.run


def one_cell_pins(tmp_path: Path) -> Pins:
    """A pins file of CELL alone."""
    path = tmp_path / "pins.toml"
    path.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n')
    return load_pins(path)


def test_the_published_result_is_reused_when_the_results_folder_has_none(tmp_path: Path, result) -> None:
    pins = one_cell_pins(tmp_path)
    reports = tmp_path / "reports"
    publish(pins, pins.cells, write(tmp_path / "first", result("k1")).parent, reports)
    decision, reused = decide_one(tmp_path, inputs("k1"))
    assert not decision.run
    assert "from the published matrix" in decision.line
    assert reused["reused_from"] == FINISHED
    assert reused["inputs"] == inputs("k1")
    assert reused["runs"] == result("k1")["runs"]


def test_an_unchanged_matrix_republished_from_reused_results_changes_nothing_the_second_time(
    tmp_path: Path, result
) -> None:
    pins = one_cell_pins(tmp_path)
    reports, results = tmp_path / "reports", tmp_path / "cells"
    publish(pins, pins.cells, write(tmp_path / "first", result("k1")).parent, reports)
    for _ in range(2):  # the first reuse marks the detail file with the run it came from
        (results / f"{CELL.id}.json").unlink(missing_ok=True)
        reuse_or_run(pins.cells, lambda cell: inputs("k1"), results, reports)
        before = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
        publish(pins, pins.cells, results, reports)
    after = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    assert after == before
    detail = json.loads((reports / "cells" / f"{CELL.id}.json").read_text())
    assert detail["reused_from"] == FINISHED


@pytest.mark.parametrize("status", ["infra", "error"])
def test_a_result_that_did_not_run_the_suites_is_never_reused(tmp_path: Path, result, status: str) -> None:
    """An index that failed during the install, or a crashed session, says nothing about the inputs."""
    write(tmp_path / "cells", {**result("k1"), "status": status, "status_reason": "Failed to fetch"})
    decision, left = decide_one(tmp_path, inputs("k1"))
    assert decision.run and left is None
    assert "did not run its suites" in decision.line


def test_each_cell_of_many_is_decided_on_its_own_inputs_with_the_first_found_before_the_others(
    tmp_path: Path,
) -> None:
    cells = [Cell.from_id(f"tf4.57.{patch}-torch2.13.0") for patch in range(9)]
    order: list[str] = []

    def inputs_of(cell: Cell) -> dict[str, Any] | None:
        order.append(cell.id)
        return None if cell.transformers.endswith((".3", ".7")) else inputs(cell.id)

    decisions = reuse_or_run(cells, inputs_of, tmp_path / "cells", tmp_path / "reports")
    assert order[0] == cells[0].id and sorted(order) == sorted(cell.id for cell in cells)
    assert [decision.cell for decision in decisions] == cells
    assert ["cannot be told" in decision.line for decision in decisions] == [
        cell.transformers.endswith((".3", ".7")) for cell in cells]
