"""Two publishes of one reports folder at once: the second waits for the first and merges on top of its
result, so neither run's results are lost; a publish that waits too long gives up with one line."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvmatrix.publish.publish_run import publish
from kvmatrix.publish.report_set import LOCK_NAME, ReportsBusy
from tests.support.publish import LAYER, LIST, PINS, cell_result, checkout, write_result

PROCESS = Path(__file__).resolve().parents[2] / "support" / "publish_process.py"
SUITES = ["compile", "export", "roundtrip"]


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PROCESS), *map(str, args)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Until `path` exists; fails if `process` ends first."""
    while not path.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)


def test_two_publishes_at_once_keep_both_runs_results_and_both_history_lines(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", SUITES)
    first_results, second_results, reports = tmp_path / "first", tmp_path / "second", tmp_path / "reports"
    write_result(first_results, cell_result(LIST, "pass"))
    write_result(second_results, cell_result(LAYER, "fail"))
    ready, go = tmp_path / "ready", tmp_path / "go"
    first = start("--pause-after-read", ready, go, first_results, reports, root, LIST.id)
    wait_for(ready, first)  # the first publish has read the (empty) reports and not written yet
    second = start(second_results, reports, root, LAYER.id)
    try:
        second.wait(timeout=5)  # without a lock it finishes here, before the first one writes
    except subprocess.TimeoutExpired:
        pass
    go.touch()
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    matrix = json.loads((reports / "matrix.json").read_text())
    assert [(cell["id"], cell["status"]) for cell in matrix["cells"]] == [(LIST.id, "ran"), (LAYER.id, "ran")]
    assert matrix["cells"][1]["suites"]["export"]["with"]["verdict"] == "fail"
    history = (reports / "history.jsonl").read_text().splitlines()
    assert len(history) == 2 and set(json.loads(history[1])["cells"]) == {LIST.id, LAYER.id}


def test_a_publish_waiting_too_long_for_the_lock_gives_up_in_one_line_and_writes_nothing(
    tmp_path: Path
) -> None:
    root = checkout(tmp_path / "repo", SUITES)
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    reports.mkdir()
    holder = os.open(reports / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another publish in progress
    try:
        with pytest.raises(ReportsBusy) as busy:
            publish(PINS, (LIST,), results, reports, root=root, lock_timeout_s=0.3)
    finally:
        os.close(holder)
    assert str(busy.value).startswith(f"another publish has held {reports / LOCK_NAME} for over 0.3 s")
    assert "\n" not in str(busy.value)
    assert sorted(path.name for path in reports.iterdir()) == [LOCK_NAME]
