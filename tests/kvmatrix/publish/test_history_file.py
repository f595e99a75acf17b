"""A history.jsonl line that is not a JSON object (a publish cut short truncates the last one) is reported
at the next publish, naming the file and line, and dropped from the rewritten history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.publish.history_file import read_history
from kvmatrix.publish.publish_run import publish

GOOD = '{"generated_at":"2026-01-01T00:00:00Z","cells":{}}'


def test_a_truncated_last_line_is_reported_and_dropped_by_the_next_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pins: Pins, ran_cell: dict[str, Any]
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    results.mkdir()
    (results / f"{ran_cell['id']}.json").write_text(json.dumps(ran_cell))
    cells = pins.select([ran_cell["id"]])
    publish(pins, cells, results, reports)
    history = reports / "history.jsonl"
    whole = history.read_text()
    history.write_text(whole + whole[: len(whole) // 2])  # the next line, cut short
    capsys.readouterr()
    (results / f"{ran_cell['id']}.json").write_text(json.dumps({**ran_cell, "duration_s": 99.0}))  # a new run
    publish(pins, cells, results, reports)
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == [f"warning: {history}: line 2 is not a JSON object (a publish cut short?); "
                        "dropped from the history"]
    lines = history.read_text().splitlines()
    assert len(lines) == 2 and lines[0] == whole.strip()
    assert all(isinstance(json.loads(line), dict) for line in lines)


@pytest.mark.parametrize("bad", ["[1, 2]", '"text"', "{", "\udcff"], ids=["array", "string", "truncated",
                                                                         "not UTF-8"])
def test_every_line_that_is_not_a_json_object_is_dropped_with_its_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(f"{GOOD}\n{bad}\n{GOOD}\n".encode(errors="surrogateescape"))
    assert read_history(path) == f"{GOOD}\n{GOOD}\n"
    assert capsys.readouterr().err == (f"warning: {path}: line 2 is not a JSON object (a publish cut short?); "
                                       "dropped from the history\n")


def test_a_whole_history_is_read_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(f"{GOOD}\n{GOOD}\n")
    assert read_history(path) == f"{GOOD}\n{GOOD}\n"
    assert read_history(tmp_path / "absent.jsonl") == ""
    assert capsys.readouterr().err == ""
