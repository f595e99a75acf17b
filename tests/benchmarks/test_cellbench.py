"""The benchmark's pure helpers: parsing pytest's and `time`'s output, splitting a cell's time into the suites'
and the harness's, formatting, and the rendered results (no measurement is taken here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cellbench, rerun
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
from benchmarks.cellbench import suite_verdicts, verdict_changes, verdicts_by_test, work_dir_results
from benchmarks.envbench import BenchError, link_tree
from benchmarks.harness import by_hand, carry, dumps, main, matrix_run
from benchmarks.report import render
from benchmarks.targets import floor_columns, targets
from benchmarks.targets import tests_floor as floor_of_tests  # a test-like name pytest would collect
from kvmatrix.plan.pins import Cell


def a_run(process_s: float, summary: str, test_durations: list[float]) -> dict[str, Any]:
    """One `runs.<mode>` entry as `kvmatrix.run.process.pytest_run.run_suites` records it."""
    return {"exit_code": 1, "duration_s": process_s, "log_tail": f"FAILED suites/x.py::t - boom\n{summary}",
            "tests": [{"suite": "export", "name": f"t{i}", "verdict": "pass", "duration_s": d}
                      for i, d in enumerate(test_durations)]}


RECORD = {
    "id": "tf4.57.6-torch2.13.0", "status": "ran", "install_duration_s": 1.0, "duration_s": 100.0,
    "runs": {"without": a_run(45.0, "3 failed, 5 passed, 1 xfailed, 17 warnings in 40.00s", [10.0, 20.0]),
             "with": a_run(50.0, "10 failed, 42 passed in 45.50s (0:00:45)", [30.0, 10.0])},
}


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


def env_runs(total: float, venv: float) -> dict[str, Any]:
    return {part: summarize([value]) for part, value in
            (("total_s", total), ("venv_s", venv), ("install_s", total - venv))}


RESULTS = {
    "command": "python3 benchmarks/harness.py --out benchmarks/RESULTS.md", "started_at": "2026-11-25T10:00:00Z",
    "bench_wall_s": 1500.0, "json_name": "RESULTS.json",
    "machine": {"cpu": "Some CPU", "cores": 2, "memory_gib": 23.4, "gpu": "none", "os": "Linux", "python": "3.11.7",
                "nox": "nox 2026.10.20", "load_average_at_start": [0.1, 0, 0], "load_average_at_end": [1.9, 0, 0]},
    "envs": {"requirements": ["torch==2.13.0"], "uv_cold": env_runs(30.0, 0.1),
             "uv_warm": {**env_runs(2.0, 0.05), "env": {"files": 20000, "pyc": 0, "bytes": 2**30}},
             "pip_cold": env_runs(90.0, 3.0), "pip_warm": env_runs(60.0, 3.0)},
    "link_floor": {"total_s": summarize([0.5]), "files": 20000, "command": "cp -al"},
    "nox_cell": {"command": "nox -s cell(x)", **cell_breakdown(RECORD, wall_s=110.0)},
    "modes": {"cell": "tf4.57.6-torch2.13.0", "targets": ["suites"], "verdicts_differing": [],
              "rows": [{"at_once": 1, "wall_s": 125.0, "process_s": {"without": 54.0, "with": 70.0},
                        "tests_s": 93.0, "tests": 110},
                       {"at_once": 2, "wall_s": 75.0, "process_s": {"without": 55.0, "with": 74.0},
                        "tests_s": 95.0, "tests": 110}]},
    "matrix_run": {"log": "/tmp/m.log", "wall_s": 1800.0, "cells_dir": "build/cells", "cells": [cell_breakdown(RECORD)],
                   "totals": totals([cell_breakdown(RECORD)])},
}


def test_targets_say_what_was_missed_and_by_how_much() -> None:
    rows = {t["name"]: t for t in targets(RESULTS)}
    assert rows["warm cell environment"]["met"] is False
    assert rows["warm cell environment"]["gap"] == "misses by 0.50 s (33 % over)"
    assert rows["warm uv vs warm pip + venv"]["measured"] == "30.0×"
    assert rows["warm uv vs warm pip + venv"]["gap"] == "misses by 20.0× (40 % short)"
    assert rows["harness overhead per cell"]["gap"] == "misses by 17.3 percentage points"
    assert rows["default matrix, warm"]["gap"] == "misses by 15 min 00 s (100 % over)"
    assert targets({}) == []


def test_render_names_every_section_and_each_missed_target() -> None:
    text = render(RESULTS)
    for heading in ("## Targets (issue 7)", "## 1. One cell's environment", "## 2. Harness overhead per cell",
                    "## 3. Matrix wall time", "## 4. Parallelism inside a cell", "### The two registration runs at once",
                    "## 8. Measured by hand"):
        assert heading in text
    assert text.count("**missed**") == 4
    assert "| warm cell environment | ≤ 1.5 s | 2.00 s |" in text and "| **missed**: misses by 0.50 s (33 % over) |" in text
    assert "Speed-up: **1.7×**; tests whose verdict differs between the two: 0." in text
    assert "More pytest-xdist workers were not measured in this run." in text


def test_each_timed_target_sits_beside_its_physical_floor() -> None:
    rows = {t["name"]: t for t in targets(RESULTS)}
    env = rows["warm cell environment"]
    assert env["floor"] == "0.50 s (`cp -al` of a finished environment's 20000 files)"
    assert env["above"] == "1.50 s, 4.0× the floor"
    cell = rows["harness overhead per cell"]  # tests 30 + 40 s on 2 cores: 35 s; the cell took 110 s
    assert cell["floor"] == "35.0 s (the tests' own times, 70.0 s, ÷ 2 cores)"
    assert cell["above"].startswith("75.0 s, 3.1×")
    assert rows["warm uv vs warm pip + venv"]["floor"] == "—"
    assert rows["default matrix, warm"]["floor"].startswith("35.0 s")
    assert floor_columns(1.0, None, "x") == {"floor": "—", "above": "—"}
    assert "| physical floor | above the floor |" in render(RESULTS)


def test_the_link_floor_hard_links_the_same_files(tmp_path) -> None:
    source = tmp_path / "env"
    (source / "lib").mkdir(parents=True)
    (source / "lib" / "module.py").write_text("x = 1\n")
    assert link_tree(source, tmp_path / "copy")["total_s"] >= 0
    assert (tmp_path / "copy" / "lib" / "module.py").stat().st_ino == (source / "lib" / "module.py").stat().st_ino


def test_phases_not_measured_now_are_carried_with_the_run_they_came_from() -> None:
    earlier = {"started_at": "2026-11-25T10:00:00Z", "modes": {"rows": []}, "xdist": {"x": 1},
               "carried": {"xdist": "2026-11-01T00:00:00Z"}}
    now = {"started_at": "2026-12-03T16:00:00Z", "envs": {"new": True}}
    carry(now, earlier, ["envs", "modes", "xdist", "scaling"])
    assert now["envs"] == {"new": True} and now["modes"] == {"rows": []} and "scaling" not in now
    assert now["carried"] == {"modes": "2026-11-25T10:00:00Z", "xdist": "2026-11-01T00:00:00Z"}
    assert "`modes` from the run started 2026-11-25T10:00:00Z" in render({**RESULTS, "carried": now["carried"]})


def test_the_matrix_run_reads_its_cell_records_and_not_the_run_plan(tmp_path) -> None:
    (tmp_path / "run-plan.json").write_text(json.dumps({"decisions": []}))
    (tmp_path / f"{RECORD['id']}.json").write_text(json.dumps(RECORD))
    run = matrix_run(None, tmp_path)
    assert [cell["id"] for cell in run["cells"]] == [RECORD["id"]] and run["wall_s"] is None
    assert run["cells_with_clients"] == 0


def test_verdict_changes_name_changed_tests_and_tests_only_one_run_has() -> None:
    before = verdicts_by_test(RECORD)
    after = {**before, "with::export::t0": "fail", "tico::export::t0": "pass"}
    del after["without::export::t1"]
    assert verdict_changes(before, after) == {"changed": ["with::export::t0: pass → fail"],
                                              "only_before": ["without::export::t1"],
                                              "only_after": ["tico::export::t0"]}
    assert verdict_changes(before, before) == {"changed": [], "only_before": [], "only_after": []}
    record = {"suites": {"export": {"with": {"verdict": "fail", "counts": {}}, "without": {"verdict": "pass"}}}}
    assert suite_verdicts(record) == {"export::with": "fail", "export::without": "pass"}


def test_a_failure_that_moved_to_another_cause_differs_side_by_side() -> None:
    def failing(cause: str | None) -> dict[str, Any]:
        run = a_run(10.0, "", [1.0])
        run["tests"][0].update(verdict="fail", cause=cause)
        return {"runs": {"with": run}}

    assert verdicts_by_test(failing("not-cache")) == {"with::export::t0": "fail (not-cache)"}
    assert verdict_changes(verdicts_by_test(failing("not-cache")), verdicts_by_test(failing("cache")))["changed"] == [
        "with::export::t0: fail (not-cache) → fail (cache)"]
    assert verdict_changes(verdicts_by_test(failing(None)), verdicts_by_test(failing(None)))["changed"] == []


def _git_repo(path, files: dict[str, str]) -> None:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(path), *command], check=True)


def test_versus_runs_each_cell_in_a_worktree_of_the_previous_commit_and_in_the_checkout(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    _git_repo(repo, {"harness.txt": "previous\n"})
    previous = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    (repo / "harness.txt").write_text("this\n")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "y"],
                   check=True)
    ran: list[tuple[str, str]] = []

    def fake_cell(root, cell, scratch):  # the real one runs a whole nox cell (minutes); this reads the tree
        harness = (root / "harness.txt").read_text().strip()
        ran.append((cell.id, harness))
        record = {**RECORD, "runs": {"with": a_run(10.0, "", [1.0] if harness == "this" else [2.0])}}
        if harness == "this":
            record["runs"]["with"]["tests"][0]["verdict"] = "fail"
        return {"total_s": 50.0 if harness == "this" else 100.0, "tests_s": 1.0}, record

    monkeypatch.setattr(cellbench, "nox_cell_run", fake_cell)
    cells = [Cell(transformers="4.57.6", torch="2.13.0"), Cell(transformers="4.53.3", torch="2.13.0")]
    result = cellbench.versus(repo, previous, cells, tmp_path / "scratch")
    assert ran == [("tf4.57.6-torch2.13.0", "previous"), ("tf4.57.6-torch2.13.0", "this"),
                   ("tf4.53.3-torch2.13.0", "this"), ("tf4.53.3-torch2.13.0", "previous")]
    assert result["previous_commit"] == previous and result["this_uncommitted"] is False
    first = result["cells"][0]
    assert first["speedup"] == 2.0 and first["tests"]["changed"] == ["with::export::t0: pass → fail"]
    assert not (tmp_path / "scratch" / "previous-tree").exists()
    assert "previous-tree" not in subprocess.run(["git", "-C", str(repo), "worktree", "list"], check=True,
                                                 capture_output=True, text=True).stdout
    rows = {t["name"]: t for t in targets({"versus": result})}
    target = rows["cells vs the previous harness, side by side"]
    assert target["measured"] == "2.0×" and target["met"] is None  # fast enough, but verdicts moved: read them
    floor_s, how = floor_of_tests(2.0, None)  # each cell's own tests took 1 s in this checkout's run
    assert target["floor"] == f"{fmt_seconds(floor_s)} ({how})"
    assert target["gap"] == "2 verdicts differ (section 5 lists them)"
    text = render({**RESULTS, "versus": result})
    assert "## 5. Side by side with the previous harness" in text
    # each cell's floor is its 1 s of tests on RESULTS' 2 cores, 200× below the previous harness's 100 s
    assert "| tf4.57.6-torch2.13.0 | previous then this | 100.0 s | 50.0 s | 2.0× | 1.00 s → 1.00 s | 0.50 s (200.0×) | 1 |" in text
    assert "- tf4.57.6-torch2.13.0, tests changed (previous → this): with::export::t0: pass → fail" in text
    assert "| unknown: 2 verdicts differ (section 5 lists them) |" in text  # fast enough, but not decided as met
    same = {**result, "cells": [{**first, "tests": verdict_changes({}, {}), "suites": verdict_changes({}, {})}]}
    assert targets({"versus": same})[0]["met"] is True
    slow = {**same, "cells": [{**same["cells"][0], "this": {"total_s": 80.0, "tests_s": 1.0}}]}
    assert targets({"versus": slow})[0]["met"] is False


MATRIX_LOG = """nox > Running session matrix
nox > tf4.46.3-torch2.5.1: reused the result of the run finished at 2026-12-04T20:02:11Z (from the published matrix)
nox > tf5.25.0-torch2.13.0: run (inputs changed since the published matrix: code)
nox > Running session publish
nox > nothing new to publish: the results are those of build/reports/matrix.json (left as it is)
"""


def test_a_matrix_logs_decisions_name_the_reused_cells_and_why_the_others_ran() -> None:
    assert rerun.decisions_in(MATRIX_LOG) == {
        "reused": ["tf4.46.3-torch2.5.1"],
        "run": ["tf5.25.0-torch2.13.0 (inputs changed since the published matrix: code)"]}
    assert rerun.decisions_in("nox > Running session matrix\n") == {"reused": [], "run": []}


def test_the_unchanged_rerun_reuses_against_a_copy_of_the_reports_and_leaves_them_alone(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkout"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "matrix.json").write_text('{"cells": []}')
    calls = []

    def fake_nox(command, check, cwd, stdout, stderr, env=None):  # the real one is a whole `nox -s matrix`
        calls.append((command, cwd))
        reports = Path(command[command.index("--reports") + 1])
        assert (reports / "matrix.json").read_text() == '{"cells": []}'  # a copy of the committed reports
        (reports / "matrix.json").write_text("changed by the run")
        stdout.write(MATRIX_LOG.replace("tf5.25.0-torch2.13.0: run (inputs changed since the published matrix: "
                                        "code)", "tf5.25.0-torch2.13.0: reused the result of the run x"))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(rerun.subprocess, "run", fake_nox)
    result = rerun.unchanged_rerun(root, tmp_path / "scratch")
    (command, cwd), = calls
    assert cwd == root and command[1:5] == ["-m", "nox", "-s", "matrix"]
    assert command[command.index("--results") + 1] == str(tmp_path / "scratch" / "results")
    assert (root / "reports" / "matrix.json").read_text() == '{"cells": []}'  # the committed reports untouched
    assert result["reused"] == ["tf4.46.3-torch2.5.1", "tf5.25.0-torch2.13.0"] and result["run"] == []
    assert result["published_nothing_new"] is True
    target = {t["name"]: t for t in targets({"unchanged": result})}["default matrix re-run, nothing changed"]
    assert target["met"] is (result["wall_s"] <= 60)
    slow = {**result, "wall_s": 75.0}
    assert targets({"unchanged": slow})[0]["met"] is False and "misses by 15.0 s" in targets({"unchanged": slow})[0]["gap"]
    ran = {**result, "wall_s": 20.0, "run": ["tf5.25.0-torch2.13.0 (no previous result)"]}
    assert targets({"unchanged": ran})[0]["met"] is None  # a cell ran: not an unchanged re-run, whatever the time
    assert targets({"unchanged": ran})[0]["gap"] == "1 ran instead of being reused (section 6)"
    text = render({**RESULTS, "unchanged": ran})
    assert "## 6. The default matrix re-run with nothing changed" in text
    assert "- Run (1): tf5.25.0-torch2.13.0 (no previous result)." in text
    assert "Not measured in this run (`--phases unchanged`)." in render(RESULTS)
    marked = render({**RESULTS, "unchanged": {**result, "published_nothing_new": False}})
    assert "- Publish: wrote a new matrix." in marked and "marks each one with the run it came from" in marked
    assert "marks each one" not in text  # a run in which a cell ran wrote its new result, nothing to explain


def test_a_failed_matrix_run_is_a_failed_phase_not_a_measurement(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkout"
    (root / "reports").mkdir(parents=True)
    monkeypatch.setattr(rerun.subprocess, "run",
                        lambda command, **_: subprocess.CompletedProcess(command, 2))
    with pytest.raises(BenchError, match="nox -s matrix exited 2"):
        rerun.unchanged_rerun(root, tmp_path / "scratch")


def test_the_later_day_rerun_runs_a_fresh_clone_with_every_process_a_day_ahead(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkout"
    calls = []
    library = tmp_path / "libfaketime.so.1"
    library.write_text("")
    monkeypatch.setattr(rerun, "FAKETIME_LIBRARIES", (str(library),))

    def fake_run(command, check=False, cwd=None, stdout=None, stderr=None, env=None, capture_output=False, text=False):
        calls.append((command, cwd, env))
        if command[:2] == ["git", "clone"]:
            (Path(command[-1]) / "reports").mkdir(parents=True)
            (Path(command[-1]) / "reports" / "matrix.json").write_text(
                '{"generated_at": "2026-12-07T03:00:00Z", "index_snapshot": "2026-12-07T02:00:00Z"}')
            return subprocess.CompletedProcess(command, 0, "", "")
        if command[1] == "-c":
            return subprocess.CompletedProcess(command, 0, "2026-12-08T03:10:00Z\n", "")
        stdout.write(MATRIX_LOG.replace("tf5.25.0-torch2.13.0: run (inputs changed since the published matrix: "
                                        "code)", "tf5.25.0-torch2.13.0: reused the result of the run x"))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(rerun.subprocess, "run", fake_run)
    result = rerun.later_day_rerun(root, tmp_path / "scratch")
    clone, clock, nox = calls
    assert clone[0] == ["git", "clone", "--quiet", str(root), str(tmp_path / "scratch" / "clone")]
    assert nox[1] == tmp_path / "scratch" / "clone" and nox[0][1:5] == ["-m", "nox", "-s", "matrix"]
    assert nox[2]["LD_PRELOAD"] == str(library) and nox[2]["FAKETIME"] == "+1d" and clock[2] == nox[2]
    assert result["clock"] == "2026-12-08T03:10:00Z" and result["index_snapshot"] == "2026-12-07T02:00:00Z"
    assert result["run"] == [] and len(result["reused"]) == 2
    (row,) = [t for t in targets({"later_day": result}) if t["name"] == "fresh clone a day later, default matrix"]
    assert row["met"] is (result["wall_s"] <= 60)
    (ran,) = targets({"later_day": {**result, "wall_s": 20.0, "run": ["tf5.25.0-torch2.13.0 (code)"]}})
    assert ran["met"] is False and ran["gap"] == "1 ran instead of being reused (section 7)"  # the snapshot moved nothing
    text = render({**RESULTS, "later_day": result})
    assert "## 7. A fresh clone on a later day" in text and "(2026-12-08T03:10:00Z)" in text
    assert "Not measured in this run (`--phases later-day`)." in render(RESULTS)


def test_the_later_day_rerun_needs_libfaketime(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(rerun, "FAKETIME_LIBRARIES", (str(tmp_path / "absent.so"),))
    with pytest.raises(BenchError, match="apt-get install faketime"):
        rerun.later_day_rerun(tmp_path, tmp_path / "scratch")


MEASURED_BY_HAND = {"title": "One intra-op thread per process", "date": "2026-12-04", "commit": "8e9326a",
           "command": "python3 -m nox -s \"cell(x)\"", "conditions": "nothing else running.",
           "columns": ["threads", "wall"], "rows": [["2", "100.9 s"], ["1", "69.4 s"]], "finding": "Faster."}


def test_measurements_taken_by_hand_render_dated_with_their_command() -> None:
    text = render({**RESULTS, "by_hand": [MEASURED_BY_HAND]}).split("## 8. Measured by hand")[1]
    assert "### One intra-op thread per process" in text
    assert 'Measured 2026-12-04 at 8e9326a by `python3 -m nox -s "cell(x)"`: nothing else running.' in text
    assert "| threads | wall |\n| --- | --- |\n| 2 | 100.9 s |\n| 1 | 69.4 s |\n\nFaster." in text
    assert render(RESULTS).split("## 8. Measured by hand")[1].strip() == "None."


def test_a_run_keeps_the_measurements_by_hand_of_the_results_it_replaces(tmp_path) -> None:
    out = tmp_path / "RESULTS.md"
    (tmp_path / "RESULTS.json").write_text(json.dumps({"by_hand": [MEASURED_BY_HAND], "envs": {"stale": True}}))
    assert by_hand(tmp_path / "RESULTS.json") == [MEASURED_BY_HAND] and by_hand(tmp_path / "absent.json") == []
    assert main(["--phases", "", "--matrix-cells", str(tmp_path / "none"), "--out", str(out),
                 "--scratch-parent", str(tmp_path)]) == 0  # measures nothing: writes what it has
    written = json.loads((tmp_path / "RESULTS.json").read_text())
    assert written["by_hand"] == [MEASURED_BY_HAND] and "envs" not in written  # by hand kept, phases not carried
    assert "### One intra-op thread per process" in out.read_text()


def test_the_results_json_puts_each_list_of_plain_values_on_one_line() -> None:
    results = {"a": {"samples": [0.7, 0.73], "rows": [["x", "1 s"], ["y", "2 s"]], "empty": {}}, "b": []}
    text = dumps(results)
    assert json.loads(text) == results
    assert '  "samples": [0.7, 0.73],\n' in text and '   ["x", "1 s"],\n' in text and '"empty": {}' in text
