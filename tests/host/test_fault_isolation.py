"""A segfault, an abort, a hang and memory exhaustion inside a cell each give that test an `error` with
its cause, and the other tests still report: injected for real through the cell runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kvmatrix.cell import run_suites

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_TEST_TIMEOUT_S", "5")
        env.setenv("KVCC_MEMORY_LIMIT_GB", "2")
        return run_suites(sys.executable, ROOT, "with", tmp_path_factory.mktemp("faults"),
                          selection=["tests/faults/test_faults.py"])


def verdicts(run: dict) -> dict[str, tuple[str, str | None]]:
    return {t["name"]: (t["verdict"], t["error"]) for t in run["tests"]}


def test_every_test_reports_even_after_crashes(run: dict) -> None:
    assert set(verdicts(run)) == {
        "test_before_the_faults_passes", "test_segfault", "test_abort", "test_hang",
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
        ("test_memory_exhaustion", "exhausted its memory"),
    ],
)
def test_each_fault_is_an_error_naming_its_cause(run: dict, test: str, cause: str) -> None:
    verdict, error = verdicts(run)[test]
    assert verdict == "error"
    assert cause in error


def test_tests_left_unrun_when_workers_stop_restarting_are_errors(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_INJECT_FAULTS", "1")
        env.setenv("KVCC_MAX_WORKER_RESTART", "0")
        run = run_suites(sys.executable, ROOT, "with", tmp_path,
                         selection=["tests/faults/test_faults.py::test_segfault",
                                    "tests/faults/test_faults.py::test_after_the_faults_passes"])
    assert verdicts(run)["test_segfault"][0] == "error"
    verdict, error = verdicts(run)["test_after_the_faults_passes"]
    assert verdict == "error" and error.startswith("not run")


def test_the_run_keeps_a_log_tail(run: dict) -> None:
    assert run["log_tail"] and run["exit_code"] != 0


def test_an_unresolvable_pin_makes_a_not_installable_cell_with_the_resolver_reason(tmp_path: Path) -> None:
    import subprocess

    from kvmatrix.cell import run_cell
    from kvmatrix.pins import Cell

    subprocess.run(["uv", "venv", "-q", str(tmp_path / "venv")], check=True)
    cell = Cell(transformers="4.99.0", torch="2.13.0")
    record = run_cell(cell, str(tmp_path / "venv" / "bin" / "python"), ROOT, tmp_path / "cells")
    assert record["status"] == "not-installable"
    assert "transformers==4.99.0" in record["status_reason"]
    assert record["runs"] == {}
    assert {mode["verdict"] for suite in record["suites"].values() for mode in suite.values()} == {"not-installable"}
    assert (tmp_path / "cells" / f"{cell.id}.json").exists()
