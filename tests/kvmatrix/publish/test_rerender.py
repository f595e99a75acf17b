"""kvmatrix.publish.rerender: a published folder brought up to today's host code without running a cell (its
causes re-derived, every rendered file made again), and publish re-deriving the records it publishes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kvmatrix.plan.pins import Pins
from kvmatrix.publish.publish_run import publish
from kvmatrix.publish.rerender import main, rerender
from kvmatrix.record.causes import ANY_FAILURE, CACHE, DIFFERENTLY, NOT_CACHE
from kvmatrix.record.detail import DETAIL_FOLDER
from kvmatrix.record.matrix import load_published
from tests.support.errors import NO_FLAT_APPLY


def _published(tmp_path: Path, pins: Pins, cell: dict[str, Any]) -> Path:
    """A reports folder published from `cell` alone."""
    root, results, reports = tmp_path / "repo", tmp_path / "results", tmp_path / "reports"
    (root / "suites").mkdir(parents=True)
    for suite in cell["suites"]:
        (root / "suites" / f"test_{suite}.py").write_text("")
    results.mkdir()
    (results / f"{cell['id']}.json").write_text(json.dumps(cell))
    publish(pins, pins.select([cell["id"]]), results, reports, root=root)
    return reports


def _as_an_older_publish_left_it(reports: Path, cell_id: str, key: str) -> None:
    """Give the published test `key` (a failure of the `without` run) the cause the ladder gave before it
    compared failures, in its detail file and matrix.json's table, as a publish of then wrote them."""
    detail_path = reports / DETAIL_FOLDER / f"{cell_id}.json"
    detail = json.loads(detail_path.read_text())
    test = next(t for t in detail["runs"]["without"]["tests"] if f"{t['suite']}::{t['name']}" == key)
    test.update(cause=NOT_CACHE, cause_detail=f"{ANY_FAILURE}{NO_FLAT_APPLY}")
    detail_path.write_text(json.dumps(detail))
    matrix_path = reports / "matrix.json"
    matrix_path.write_text(matrix_path.read_text().replace(json.dumps([test["verdict"], CACHE]).replace(" ", ""),
                                                           json.dumps([test["verdict"], NOT_CACHE]).replace(" ", ""), 1))


def _failing(cell: dict[str, Any]) -> tuple[dict[str, Any], str]:
    failing = cell["runs"]["without"]["tests"][0]
    failing.update(cause=NOT_CACHE, cause_detail=f"{ANY_FAILURE}{NO_FLAT_APPLY}", upstream=None)
    return failing, f"{failing['suite']}::{failing['name']}"


def test_publish_re_derives_a_record_from_before_the_ladder_compared_failures(
        tmp_path: Path, pins: Pins, ran_cell: dict[str, Any]) -> None:
    _, key = _failing(ran_cell)
    matrix, details = load_published(_published(tmp_path, pins, ran_cell) / "matrix.json")
    assert matrix["cells"][0]["tests"][key]["without"] == ["fail", CACHE]
    assert details[ran_cell["id"]]["runs"]["without"]["tests"][0]["cause_detail"] == f"{DIFFERENTLY}{NO_FLAT_APPLY}"


def test_rerendering_moves_the_summary_table_and_detail_renders_uses_and_keeps_the_history(
        tmp_path: Path, pins: Pins, ran_cell: dict[str, Any]) -> None:
    _, key = _failing(ran_cell)
    reports = _published(tmp_path, pins, ran_cell)
    _as_an_older_publish_left_it(reports, ran_cell["id"], key)
    (reports / "uses.json").unlink()
    history = (reports / "history.jsonl").read_text()
    moves = rerender(reports)
    matrix, details = load_published(reports / "matrix.json")
    assert [move.test for move in moves[ran_cell["id"]]] == [key]
    assert matrix["cells"][0]["tests"][key]["without"] == ["fail", CACHE]
    assert details[ran_cell["id"]]["runs"]["without"]["tests"][0]["cause_detail"] == f"{DIFFERENTLY}{NO_FLAT_APPLY}"
    assert DIFFERENTLY.strip() in (reports / "matrix.md").read_text()
    assert json.loads((reports / "uses.json").read_text())["pairs"] == [ran_cell["id"]]
    assert (reports / "history.jsonl").read_text() == history
    assert rerender(reports) == {}


def test_the_listing_names_cell_mode_test_both_causes_and_both_errors_and_writes_nothing(
        tmp_path: Path, pins: Pins, ran_cell: dict[str, Any], capsys) -> None:
    failing, key = _failing(ran_cell)
    reports = _published(tmp_path, pins, ran_cell)
    _as_an_older_publish_left_it(reports, ran_cell["id"], key)
    before = (reports / "matrix.json").read_text()
    assert main([str(reports)]) == 0
    out = capsys.readouterr().out
    assert f"{ran_cell['id']} without {key}: not-cache -> cache" in out
    assert failing["error"] in out and NO_FLAT_APPLY in out
    assert (reports / "matrix.json").read_text() == before
