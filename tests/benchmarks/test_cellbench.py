"""benchmarks.cellbench: the verdicts of two runs compared test by test, and `--versus` running each cell in a
worktree of the previous commit and in the checkout."""

from __future__ import annotations

import subprocess
from typing import Any

from benchmarks import cellbench
from benchmarks.analysis import (
    fmt_seconds,
)
from benchmarks.cellbench import suite_verdicts, verdict_changes, verdicts_by_test
from benchmarks.report import render
from benchmarks.targets import targets
from benchmarks.targets import tests_floor as floor_of_tests  # a test-like name pytest would collect
from kvmatrix.plan.pins import Cell
from tests.support.benchmarks import RECORD, RESULTS, a_run


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
