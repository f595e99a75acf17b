"""Fresh-process re-runs through the cell runner's processes, for real (kvmatrix.run.process.pytest_run.rerun_modes,
kvmatrix.run.process.reruns): a real injected flaky test (tests/faults/test_flaky.py) becomes `flaky` with its
rate, a stable one keeps its verdict. The rules, with scripted batches: tests/kvmatrix/run/process/test_reruns.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.run.process import pytest_run
from kvmatrix.run.process.pytest_run import rerun_modes, run_modes, run_suites
from kvmatrix.run.process.slots import RERUN, RunSlots
from tests.support.records import record

ROOT = Path(__file__).resolve().parents[2]


def test_the_cell_runner_reruns_through_run_modes_without_the_attribution_ladder_in_the_rerun_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    cell_slots = RunSlots(2)

    def fake_run_modes(python: str, repo_root: Path, work_dir: Path, **options: Any) -> dict[str, Any]:
        calls.append({"python": python, "work_dir": work_dir, **options})
        return {}

    monkeypatch.setattr(pytest_run, "run_modes", fake_run_modes)
    rerun_modes(
        "python3",
        {"with": {"tests": [record("flaky", "test_x", "fail")]}},
        tmp_path,
        "tests/faults",
        slots=cell_slots,
    )
    assert calls == [
        {
            "python": "python3",
            "work_dir": tmp_path / "rerun-1",
            "env": {"KVCC_LADDER": "0"},
            "selections": {"with": ["tests/faults/test_flaky.py::test_x"]},
            "slots": cell_slots,
            "phase": RERUN,
            "label": f"{tmp_path.name} rerun-1",
        }
    ]


def test_run_modes_with_selections_runs_only_those_modes_with_the_extra_environment(tmp_path: Path) -> None:
    runs = run_modes(
        sys.executable,
        ROOT,
        tmp_path,
        selections={"without": ["tests/faults/test_flaky.py::test_always_fails"]},
        env={"KVCC_FLAKY_COUNTER": str(tmp_path / "counter")},
    )
    assert list(runs) == ["without"]
    assert [(t["name"], t["verdict"]) for t in runs["without"]["tests"]] == [("test_always_fails", "fail")]


@pytest.fixture(scope="module")
def flaky_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    """The injected flaky and stable tests run once, then through the cell runner's re-runs."""
    work = tmp_path_factory.mktemp("flaky")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KVCC_FLAKY_COUNTER", str(work / "counter"))
        env.delenv("KVCC_RERUNS", raising=False)
        env.delenv("KVCC_FLAKY_RUNS", raising=False)
        runs = {
            "with": run_suites(sys.executable, ROOT, "with", work, selection=["tests/faults/test_flaky.py"])
        }
        yield rerun_modes(sys.executable, runs, work, test_dir="tests/faults"), work


def by_name(runs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in runs["with"]["tests"]}


def test_an_injected_flaky_test_is_reported_flaky_with_its_rate(
    flaky_run: tuple[dict[str, Any], Path],
) -> None:
    flaky = by_name(flaky_run[0])["test_fails_on_odd_numbered_runs"]
    assert flaky["verdict"] == "flaky"
    assert flaky["reruns"] == ["pass", "fail", "pass", "fail"]
    assert flaky["reason"].startswith("3/5 runs did not pass (fail 3, pass 2); first error: ")
    assert "run 1 is odd-numbered" in flaky["reason"] and "run 1 is odd-numbered" in flaky["error"]


def test_a_stably_failing_test_stays_fail_after_one_rerun(flaky_run: tuple[dict[str, Any], Path]) -> None:
    stable = by_name(flaky_run[0])["test_always_fails"]
    assert stable["verdict"] == "fail" and stable["reruns"] == ["fail"]


def test_each_rerun_round_keeps_its_own_results(flaky_run: tuple[dict[str, Any], Path]) -> None:
    work = flaky_run[1]
    assert [(work / f"rerun-{n}" / "with.json").exists() for n in range(1, 6)] == [True] * 4 + [False]
