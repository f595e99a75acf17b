"""kvmatrix.run.process.progress: a running matrix says which cell of how many, how long is left by the last
run's durations, how far each mode's tests are, and ends with a summary table."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from kvmatrix.run.process.progress import (
    PLAN_FILE,
    announce,
    finished_tests,
    progress_line,
    reporting,
    summary_table,
    write_plan,
)

PREVIOUS = {"cells": [{"id": "a", "duration_s": 600.0}, {"id": "b", "duration_s": 300.0},
                      {"id": "c", "duration_s": 120.0}]}


def test_a_planned_cell_says_its_place_the_time_elapsed_and_the_time_left(tmp_path: Path) -> None:
    write_plan(tmp_path, ["a", "b", "new"], PREVIOUS)
    started = json.loads((tmp_path / PLAN_FILE).read_text())["started_at"]
    line = announce(tmp_path, "b", now=started + 660)
    # b (300 s) and new (the median of the known estimates a and b: 450 s) are left
    assert line == "cell 2 of 3: b; 11 min elapsed; about 12 min left (from the last run's cell durations)"


def test_without_a_previous_run_there_is_no_estimate_and_a_lone_cell_says_nothing(tmp_path: Path) -> None:
    write_plan(tmp_path, ["a"], None)
    started = json.loads((tmp_path / PLAN_FILE).read_text())["started_at"]
    assert announce(tmp_path, "a", now=started + 5) == "cell 1 of 1: a; 5 s elapsed"
    assert announce(tmp_path, "other") is None
    assert announce(tmp_path / "no-plan", "a") is None


def test_tests_done_reads_the_recorders_progress_file_and_tolerates_a_partial_one(tmp_path: Path) -> None:
    progress = tmp_path / "with.json.progress"
    assert finished_tests(progress) is None
    progress.write_text("12 64\n")
    assert finished_tests(progress) == (12, 64)
    progress.write_text("12")
    assert finished_tests(progress) is None


def test_the_progress_line_names_each_mode(tmp_path: Path) -> None:
    (tmp_path / "with.json.progress").write_text("3 10\n")
    files = {"without": tmp_path / "without.json.progress", "with": tmp_path / "with.json.progress"}
    assert progress_line("tf1-torch2", files, started=0.0).startswith(
        "tf1-torch2: without starting, with 3/10 tests (")


def test_reporting_speaks_while_the_block_runs_and_stops_after_it(tmp_path: Path) -> None:
    (tmp_path / "with.json.progress").write_text("1 2\n")
    said: list[str] = []
    spoke = threading.Event()

    def say(line: str) -> None:
        said.append(line)
        spoke.set()

    with reporting("cell", {"with": tmp_path / "with.json.progress"}, every_s=0.01, say=say):
        assert spoke.wait(30)
    count = len(said)
    assert said[0].startswith("cell: with 1/2 tests")
    assert not spoke.wait(0.05) or len(said) == count  # nothing more once the block has ended


def test_the_summary_table_counts_passed_of_ran_per_mode_without_n_a() -> None:
    cell = {"id": "tf1-torch2", "status": "ran", "duration_s": 90.0, "suites": {
        "export": {"with": {"counts": {"pass": 3, "fail": 1, "n/a": 2}}, "without": {"counts": {"pass": 1, "fail": 3}}},
        "cond": {"with": {"counts": {"pass": 2}}, "without": {"counts": {"pass": 2}}}}}
    lines = summary_table([cell, {"id": "tf3-torch4", "status": "not-installable", "duration_s": 3.0}]).splitlines()
    assert lines[0].split() == ["cell", "status", "minutes", "with:", "passed/ran", "without:", "passed/ran"]
    assert lines[1].split() == ["tf1-torch2", "ran", "1.5", "5/6", "3/6"]
    assert lines[2].split() == ["tf3-torch4", "not-installable", "0.1", "0/0", "0/0"]
