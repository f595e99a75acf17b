"""benchmarks.analysis: parsing pytest's and `time`'s output, splitting a cell's time into the suites' and the
harness's, totals and formatting (no measurement is taken here; the other benchmark modules: beside this file)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.analysis import (
    cell_breakdown,
    covered_s,
    fmt_percent,
    fmt_ratio,
    fmt_seconds,
    growth,
    percent,
    pytest_session_s,
    ratio,
    real_time_s,
    summarize,
    totals,
    unrecorded_sessions,
)
from benchmarks.cellbench import work_dir_results
from tests.support.benchmarks import RECORD, a_run


def test_pytest_summary_lines_are_parsed() -> None:
    assert pytest_session_s("x\n35 failed, 13 passed, 1 xfailed, 17 warnings in 158.38s (0:02:38)\n") == 158.38
    assert pytest_session_s("1 error in 0.20s") == 0.2
    assert pytest_session_s("no tests ran in 0.01s") == 0.01
    assert pytest_session_s("Fatal Python error: Segmentation fault") is None


def test_real_time_of_bash_time_is_parsed() -> None:
    assert real_time_s("nox > done\n\nreal\t20m55.371s\nuser\t14m43.345s\nsys\t1m29.911s\n") == 1255.37
    assert real_time_s("real\t0m1.500s") == 1.5
    assert real_time_s("real\t1h2m3s") == 3723.0
    assert real_time_s("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:40:12\n") == 6012.0
    assert real_time_s("\tElapsed (wall clock) time (h:mm:ss or m:ss): 4:05.31\n") == 245.31
    assert real_time_s("nox > still running") is None


def test_cell_breakdown_without_an_outside_wall_time() -> None:
    cell = cell_breakdown(RECORD)
    assert cell["total_s"] == 100.0 and cell["tests_s"] == 70.0
    assert cell["pytest_session_s"] == 85.5 and cell["pytest_process_s"] == 95.0
    assert cell["overhead_s"] == 14.5 and cell["overhead_pct"] == 14.5
    assert cell["outside_pytest_s"] == 5.0 and cell["outside_pytest_pct"] == 5.0
    assert cell["parts"] == {"nox_start_and_venv_s": None, "install_s": 1.0, "freeze_and_record_s": 4.0,
                             "interpreter_imports_conftest_s": 9.5, "collection_and_between_tests_s": 15.5}


def stamped(run: dict[str, Any], process: tuple[float, float], session: tuple[float, float]) -> dict[str, Any]:
    """`run` with the start times run_suites and the recorder stamp (Unix seconds)."""
    return {**run, "started_at": process[0], "duration_s": process[1] - process[0],
            "meta": {"session_started_at": session[0], "session_finished_at": session[1]}}


def test_covered_time_counts_overlapping_intervals_once() -> None:
    assert covered_s([(0.0, 10.0), (5.0, 12.0), (20.0, 21.0)]) == 13.0
    assert covered_s([(0.0, 10.0), (2.0, 3.0)]) == 10.0
    assert covered_s([]) == 0.0


def test_runs_at_the_same_time_count_their_wall_time_once() -> None:
    runs = {"without": stamped(RECORD["runs"]["without"], (1000.0, 1050.0), (1002.0, 1048.0)),
            "with": stamped(RECORD["runs"]["with"], (1000.0, 1060.0), (1003.0, 1059.0))}
    cell = cell_breakdown({**RECORD, "duration_s": 64.0, "runs": runs})
    assert cell["runs_overlap"] is True
    assert cell["pytest_process_s"] == 60.0 and cell["pytest_session_s"] == 57.0
    assert cell["overhead_s"] == 7.0 and cell["outside_pytest_s"] == 4.0
    assert cell["parts"]["interpreter_imports_conftest_s"] == 3.0
    assert cell["parts"]["collection_and_between_tests_s"] is None  # the tests' 70 s exceed the 57 s of wall


def test_runs_one_after_another_with_stamps_match_the_sums() -> None:
    runs = {"without": stamped(RECORD["runs"]["without"], (0.0, 45.0), (2.0, 42.0)),
            "with": stamped(RECORD["runs"]["with"], (45.0, 95.0), (48.0, 93.5))}
    cell = cell_breakdown({**RECORD, "runs": runs})
    assert cell["runs_overlap"] is False
    assert cell["pytest_session_s"] == 85.5 and cell["pytest_process_s"] == 95.0
    assert cell["parts"]["collection_and_between_tests_s"] == 15.5


def test_client_and_rerun_sessions_found_in_the_work_dir_count_as_inside_pytest(tmp_path) -> None:
    runs = {"without": stamped(RECORD["runs"]["without"], (0.0, 45.0), (2.0, 42.0)),
            "with": stamped(RECORD["runs"]["with"], (0.0, 50.0), (3.0, 48.0))}
    cell_dir = tmp_path / RECORD["id"]
    for where, name, span in (("client-tico", "with.json", (60.0, 80.0)), ("rerun-1", "without.json", (50.0, 55.0)),
                              (".", "with.json", (3.0, 48.0))):
        (cell_dir / where).mkdir(parents=True, exist_ok=True)
        (cell_dir / where / name).write_text(json.dumps({"session_started_at": span[0], "session_finished_at": span[1],
                                                         "tests": []}))
    (cell_dir / "client-tico" / "venv").mkdir()
    (cell_dir / "client-tico" / "venv" / "other.json").write_text("[1]")
    extra = unrecorded_sessions(work_dir_results(cell_dir))
    assert sorted(extra) == [(3.0, 48.0), (50.0, 55.0), (60.0, 80.0)]
    cell = cell_breakdown({**RECORD, "runs": runs}, extra_sessions=extra)
    assert cell["runs_overlap"] is True
    assert cell["pytest_session_s"] == 46.0 + 5.0 + 20.0  # the record's own session found again counts once
    assert cell["pytest_process_s"] == 50.0 + 5.0 + 20.0


def test_cell_breakdown_with_the_nox_wall_time_charges_nox_to_the_overhead() -> None:
    cell = cell_breakdown(RECORD, wall_s=110.0)
    assert cell["total_s"] == 110.0 and cell["run_cell_s"] == 100.0
    assert cell["overhead_s"] == 24.5 and cell["parts"]["nox_start_and_venv_s"] == 10.0
    assert sum(v for v in cell["parts"].values()) == pytest.approx(cell["total_s"] - cell["tests_s"])


def test_a_crashed_run_falls_back_to_the_tests_time() -> None:
    record = {**RECORD, "runs": {"with": a_run(50.0, "Segmentation fault", [30.0])}}
    cell = cell_breakdown(record)
    assert cell["pytest_session_s"] is None and cell["overhead_s"] == 70.0
    assert cell["parts"]["collection_and_between_tests_s"] is None


def test_totals_recompute_percentages_from_sums() -> None:
    summed = totals([cell_breakdown(RECORD), cell_breakdown(RECORD, wall_s=300.0)])
    assert summed["cells"] == 2 and summed["total_s"] == 400.0
    assert summed["overhead_pct"] == percent(summed["overhead_s"], 400.0)


def test_summaries_ratios_and_formatting() -> None:
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3, "samples": [3.0, 1.0, 2.0]}
    assert summarize([])["median"] is None
    assert ratio(60.0, 1.2) == 50.0 and ratio(None, 1.0) is None and ratio(1.0, 0.0) is None
    assert percent(1.0, 8.0) == 12.5 and percent(1.0, 0) is None
    assert fmt_seconds(0.843) == "0.84 s" and fmt_seconds(12.34) == "12.3 s" and fmt_seconds(307) == "5 min 07 s"
    assert fmt_seconds(None) == fmt_ratio(None) == fmt_percent(None) == "n/a"
    assert fmt_ratio(63.04) == "63.0×" and fmt_percent(4.25) == "4.2 %"


def test_growth_is_relative_to_the_smallest_count() -> None:
    rows = growth({1: 50.0, 2: 98.0, 4: 210.0})
    assert [r["relative_to_one_cell"] for r in rows] == [1.0, 1.96, 4.2]
    assert rows[2]["per_cell_s"] == 52.5 and growth({}) == []
