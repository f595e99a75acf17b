"""benchmarks.rerun: the unchanged and the later-day re-runs of the matrix, their phases and what they need."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks import rerun
from benchmarks.envbench import BenchError
from benchmarks.report import render
from benchmarks.targets import targets
from tests.support.benchmarks import RESULTS

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
