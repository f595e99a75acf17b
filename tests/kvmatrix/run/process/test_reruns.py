"""Fresh-process re-runs (kvmatrix.run.process.reruns, kvmatrix.run.process.pytest_run.rerun_modes): a test whose outcome changes between
runs becomes `flaky` with its rate; a stable one keeps its verdict: scripted batches for the rules. A real
injected flaky test (tests/faults/test_flaky.py) through the cell runner's processes:
tests/integration/test_reruns.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvmatrix.run.process.reruns import flaky_rate, node_id, rerun_failures


def record(name: str, verdict: str, suite: str = "export", **extra: Any) -> dict[str, Any]:
    """A test record as the in-cell recorder writes it."""
    return {"suite": suite, "name": name, "verdict": verdict, "reason": None, "error": None, **extra}


class ScriptedBatch:
    """A batch runner whose tests get the verdicts scripted for them, one per round (none when the script
    runs out: the test was not reported); records every call."""

    def __init__(self, script: dict[tuple[str, str], list[str]]) -> None:
        self.script = {key: iter(verdicts) for key, verdicts in script.items()}
        self.calls: list[tuple[dict[str, list[str]], Path]] = []

    def __call__(self, selections: dict[str, list[str]], work_dir: Path) -> dict[str, Any]:
        self.calls.append((selections, work_dir))
        runs = {}
        for mode, ids in selections.items():
            tests = []
            for nodeid in ids:
                name = nodeid.split("::", 1)[1]
                verdict = next(self.script.get((mode, name), iter(())), None)
                if verdict is not None:
                    tests.append(record(name, verdict))
            runs[mode] = {"tests": tests}
        return runs


@pytest.fixture(autouse=True)
def default_rerun_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVCC_RERUNS", raising=False)
    monkeypatch.delenv("KVCC_FLAKY_RUNS", raising=False)


def two_modes() -> dict[str, Any]:
    return {
        "with": {
            "tests": [
                record("test_ok", "pass"),
                record("test_stable", "fail", error="AssertionError: x"),
                record("test_flaky", "fail", error="AssertionError: mask", cause="not-cache"),
                record("collect suites/test_export.py", "error", error="ImportError"),
            ]
        },
        "without": {
            "tests": [record("test_setup", "setup", error="eager prefill failed"), record("test_na", "n/a")]
        },
    }


def test_node_ids_name_the_test_file_of_the_suite() -> None:
    assert (
        node_id(record("test_x[DynamicCache-strict]", "fail"))
        == "suites/test_export.py::test_x[DynamicCache-strict]"
    )
    assert (
        node_id(record("test_y", "fail", suite="flaky"), "tests/faults")
        == "tests/faults/test_flaky.py::test_y"
    )


def test_failing_tests_are_rerun_once_in_one_batch_for_both_modes(tmp_path: Path) -> None:
    batch = ScriptedBatch(
        {
            ("with", "test_stable"): ["fail"],
            ("with", "test_flaky"): ["fail"],
            ("without", "test_setup"): ["setup"],
        }
    )
    runs = rerun_failures(two_modes(), batch, tmp_path)
    assert batch.calls == [
        (
            {
                "with": ["suites/test_export.py::test_stable", "suites/test_export.py::test_flaky"],
                "without": ["suites/test_export.py::test_setup"],
            },
            tmp_path / "rerun-1",
        )
    ]
    reruns = {t["name"]: (t["verdict"], t["reruns"]) for run in runs.values() for t in run["tests"]}
    assert reruns == {
        "test_ok": ("pass", []),
        "test_stable": ("fail", ["fail"]),
        "test_flaky": ("fail", ["fail"]),
        "collect suites/test_export.py": ("error", []),
        "test_setup": ("setup", ["setup"]),
        "test_na": ("n/a", []),
    }


def test_a_test_whose_rerun_differs_runs_five_times_in_all_and_is_flaky_with_its_rate(tmp_path: Path) -> None:
    batch = ScriptedBatch(
        {
            ("with", "test_stable"): ["fail"],
            ("with", "test_flaky"): ["pass", "fail", "pass", "pass"],
            ("without", "test_setup"): ["setup"],
        }
    )
    runs = rerun_failures(two_modes(), batch, tmp_path)
    flaky = runs["with"]["tests"][2]
    assert flaky["verdict"] == "flaky" and flaky["reruns"] == ["pass", "fail", "pass", "pass"]
    assert flaky["reason"] == "2/5 runs did not pass (fail 2, pass 3); first error: AssertionError: mask"
    assert flaky["error"] == "AssertionError: mask" and flaky["cause"] == "not-cache"
    assert flaky_rate(flaky) == "2/5 runs did not pass (fail 2, pass 3)"
    # only the test whose outcome changed is run again, alone, each round in its own work dir
    assert batch.calls[1:] == [
        ({"with": ["suites/test_export.py::test_flaky"]}, tmp_path / f"rerun-{n}") for n in (2, 3, 4)
    ]
    assert runs["with"]["tests"][1]["verdict"] == "fail"


def test_flaky_runs_sets_how_many_runs_a_changing_test_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVCC_FLAKY_RUNS", "3")
    batch = ScriptedBatch({("with", "test_flaky"): ["pass", "error", "fail", "fail"]})
    flaky = rerun_failures(two_modes(), batch, tmp_path)["with"]["tests"][2]
    assert flaky["reruns"] == ["pass", "error"]
    assert flaky["reason"].startswith("2/3 runs did not pass (error 1, fail 1, pass 1); first error:")


def test_a_rerun_that_fails_differently_is_not_flaky(tmp_path: Path) -> None:
    """xfail first, then fail with another error in the fresh process: it never passes, so it is no coin
    toss; the re-run verdict is kept and nothing runs again."""
    batch = ScriptedBatch({("with", "test_stable"): ["error"], ("with", "test_flaky"): ["xfail"]})
    runs = rerun_failures(two_modes(), batch, tmp_path)
    assert [(t["verdict"], t["reruns"]) for t in runs["with"]["tests"][1:3]] == [
        ("fail", ["error"]), ("fail", ["xfail"])]
    assert len(batch.calls) == 1


def test_a_rerun_that_reports_nothing_never_makes_a_test_flaky(tmp_path: Path) -> None:
    runs = rerun_failures(two_modes(), ScriptedBatch({}), tmp_path)
    assert [(t["verdict"], t["reruns"]) for t in runs["with"]["tests"][1:3]] == [("fail", []), ("fail", [])]


def test_reruns_off_runs_nothing_and_records_no_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVCC_RERUNS", "0")
    batch = ScriptedBatch({("with", "test_flaky"): ["pass"]})
    runs = rerun_failures(two_modes(), batch, tmp_path)
    assert batch.calls == []
    assert {t["verdict"] for t in runs["with"]["tests"]} == {"pass", "fail", "error"}
    assert all(t["reruns"] == [] for run in runs.values() for t in run["tests"])
