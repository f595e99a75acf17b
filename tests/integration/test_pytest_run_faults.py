"""A segfault, an abort, a hang (inside C code or in Python) and memory exhaustion inside a cell each give
that test an `error` with its cause, and the other tests still report: injected for real through the cell
runner, with workers started as processes of their own and forked from a fork server. No process of a run
outlives it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvmatrix.run.process.fork_client import serving
from kvmatrix.run.process.pytest_run import run_environment, run_suites

ROOT = Path(__file__).resolve().parents[2]
FAULTS = "tests/faults/test_faults.py"
RUN_LIMIT_S = 120
"""Far more than the fault run needs; without a working hang guard the run would end here, reporting nothing."""


@pytest.fixture(scope="module", params=["started", "forked"])
def workers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What the runs add to their environment for their xdist workers to be started as processes of their own,
    or forked from a server (kvmatrix.run.process.fork_client; preloading only `json` here: no torch on the host)."""
    if request.param == "started":
        yield {}
        return
    log_path = tmp_path_factory.mktemp("forkserver") / "forkserver.log"
    with log_path.open("w") as log, serving(sys.executable, run_environment(sys.executable, ROOT), ROOT, log,
                                            modules=["json"]) as forked:
        yield forked
    assert "forking workers" in log_path.read_text()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, workers: dict[str, str]) -> dict:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_TEST_TIMEOUT_S", "5")
        env.setenv("KVCC_MEMORY_LIMIT_GB", "0.5")  # below test_memory_exhaustion's HOG_BYTES
        return run_suites(sys.executable, ROOT, "with", tmp_path_factory.mktemp("faults"), timeout_s=RUN_LIMIT_S,
                          selection=[FAULTS], env=workers)


def verdicts(run: dict) -> dict[str, tuple[str, str | None]]:
    return {t["name"]: (t["verdict"], t["error"]) for t in run["tests"]}


def test_every_test_reports_even_after_crashes(run: dict) -> None:
    assert set(verdicts(run)) == {
        "test_before_the_faults_passes", "test_segfault", "test_abort", "test_hang", "test_hang_in_python",
        "test_memory_exhaustion", "test_after_the_faults_passes",
    }
    assert verdicts(run)["test_before_the_faults_passes"][0] == "pass"
    assert verdicts(run)["test_after_the_faults_passes"][0] == "pass"


@pytest.mark.parametrize(
    ("test", "cause"),
    [
        ("test_segfault", "process died"),
        ("test_abort", "process died"),
        ("test_hang", "hung past its timeout"),
        ("test_hang_in_python", "hung past its timeout"),
        ("test_memory_exhaustion", "exhausted its memory"),
    ],
)
def test_each_fault_is_an_error_naming_its_cause(run: dict, test: str, cause: str) -> None:
    verdict, error = verdicts(run)[test]
    assert verdict == "error"
    assert cause in error


def test_a_hang_inside_c_code_names_where_it_was_stuck(run: dict) -> None:
    error = verdicts(run)["test_hang"][1]
    assert f"stuck outside Python in {FAULTS}:" in error and "(test_hang)" in error


def test_the_memory_fault_passes_when_its_limit_allows_the_allocation(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_MEMORY_LIMIT_GB", "64")
        run = run_suites(sys.executable, ROOT, "with", tmp_path, selection=[f"{FAULTS}::test_memory_exhaustion"])
    assert verdicts(run) == {"test_memory_exhaustion": ("pass", None)}


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_no_process_outlives_a_run_stopped_at_its_time_limit(tmp_path: Path, workers: dict[str, str]) -> None:
    pid_file = tmp_path / "hang.pid"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_TEST_TIMEOUT_S", "600")  # the hang guard waits longer than the run may last
        env.setenv("KVCC_FAULT_PID_FILE", str(pid_file))
        run = run_suites(sys.executable, ROOT, "with", tmp_path / "work", timeout_s=20,
                         selection=[f"{FAULTS}::test_hang"], env=workers)
    assert run["exit_code"] == "timeout after 20s"
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker), f"the hung test's process {worker} outlived its run"


def test_tests_left_unrun_when_workers_stop_restarting_are_errors(tmp_path: Path, workers: dict[str, str]) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_MAX_WORKER_RESTART", "0")
        run = run_suites(sys.executable, ROOT, "with", tmp_path,
                         selection=[f"{FAULTS}::test_segfault", f"{FAULTS}::test_after_the_faults_passes"],
                         env=workers)
    assert verdicts(run)["test_segfault"][0] == "error"
    verdict, error = verdicts(run)["test_after_the_faults_passes"]
    assert verdict == "error" and error.startswith("not run")


def test_the_run_keeps_a_log_tail(run: dict) -> None:
    assert run["log_tail"] and run["exit_code"] != 0


def test_an_unresolvable_pin_makes_a_not_installable_cell_with_the_resolver_reason(tmp_path: Path) -> None:
    from kvmatrix.plan.pins import Cell
    from kvmatrix.run.cell import run_cell

    cell = Cell(transformers="4.99.0", torch="2.13.0")
    # run_cell makes the uv environment it is given as (folder, CPython minor), as cell_cli and run_cells ask
    record = run_cell(cell, (tmp_path / "venv", f"{sys.version_info.major}.{sys.version_info.minor}"),
                      tmp_path / "cells")
    assert (tmp_path / "venv" / "bin" / "python").exists()
    assert record["status"] == "not-installable"
    assert "transformers==4.99.0" in record["status_reason"]
    assert record["runs"] == {}
    assert {mode["verdict"] for suite in record["suites"].values() for mode in suite.values()} == {"not-installable"}
    assert (tmp_path / "cells" / f"{cell.id}.json").exists()
