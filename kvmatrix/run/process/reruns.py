"""Re-run the tests that did not pass in fresh processes, and call those whose outcome changes `flaky`.

Every test of a run whose verdict is fail, error, xfail or setup is re-run once; the re-runs of one mode
share one fresh pytest process (torch is imported once per batch), and the modes' batches run at the
same time. A test that passes on a re-run is run again, alone with the other such tests, until it has
KVCC_FLAKY_RUNS runs in all (default 5); it then becomes `flaky`, its reason giving the rate. A re-run
that fails differently (fail after xfail) changes nothing but `reruns`. Each record gets `reruns`, the re-run verdicts in order (`[]` when not re-run). KVCC_RERUNS=0
turns re-runs off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kvmatrix.record.verdicts import FLAKY, PASS, RERUN, SEVERITY
from kvmatrix.settings import int_setting, setting

RERUN_ENV = {"KVCC_LADDER": "0"}
"""Added to a re-run's environment: the in-cell attribution ladder already ran in the first run."""
COLLECT_PREFIX = "collect "
"""How the recorder names the pseudo-record of a module it could not collect: no test to re-run."""
FIRST_ERROR = "; first error: "

Batch = Callable[[dict[str, list[str]], Path], dict[str, dict[str, Any]]]
"""Runs the node ids of each mode named (one fresh pytest process per mode) with `Path` as work dir, and
returns the runs by mode (kvmatrix.run.process.pytest_run.run_modes with `selections`)."""


def node_id(test: dict[str, Any], test_dir: str = "suites") -> str:
    """The pytest node id of a test record: `<test_dir>/test_<suite>.py::<name>`."""
    return f"{test_dir}/test_{test['suite']}.py::{test['name']}"


def _rerunnable(test: dict[str, Any]) -> bool:
    return test.get("verdict") in RERUN and not str(test.get("name", "")).startswith(COLLECT_PREFIX)


def _changed(test: dict[str, Any]) -> bool:
    """A re-run passed a test whose first run did not. Re-runs that fail differently (xfail, then fail
    with another error: the fresh process runs fewer tests before it) are kept in `reruns` but say the
    same thing: the test does not pass."""
    return PASS in test["reruns"]


def rerun_failures(runs: dict[str, Any], batch: Batch, work_dir: Path,
                   test_dir: str = "suites") -> dict[str, Any]:
    """Re-run the failing tests of `runs` (mode -> run) through `batch` and fold the outcomes into their
    records, in place; returns `runs`.

    Round k runs in `work_dir / f"rerun-{k}"`. A test that a re-run did not report (its process crashed
    or timed out) gets no verdict from that round; it is never made flaky by a missing answer.
    """
    for run in runs.values():
        for test in run.get("tests", []):
            test["reruns"] = []
    if setting("KVCC_RERUNS") == "0":
        return runs
    runs_in_all = max(2, int_setting("KVCC_FLAKY_RUNS"))
    pending = {mode: [test for test in run.get("tests", []) if _rerunnable(test)]
               for mode, run in runs.items()}
    for round_number in range(1, runs_in_all):
        selections = {mode: [node_id(test, test_dir) for test in tests]
                      for mode, tests in pending.items() if tests}
        if not selections:
            break
        reran = batch(selections, work_dir / f"rerun-{round_number}")
        for mode, tests in pending.items():
            verdicts = {(test.get("suite"), test.get("name")): test.get("verdict")
                        for test in reran.get(mode, {}).get("tests", [])}
            for test in tests:
                verdict = verdicts.get((test["suite"], test["name"]))
                if verdict is not None:
                    test["reruns"].append(verdict)
        pending = {mode: [test for test in tests if _changed(test) and 1 + len(test["reruns"]) < runs_in_all]
                   for mode, tests in pending.items()}
    for run in runs.values():
        for test in run.get("tests", []):
            if test["reruns"] and _changed(test):
                _make_flaky(test)
    return runs


def _make_flaky(test: dict[str, Any]) -> None:
    """Turn a test whose runs disagree into `flaky`; its error and cause stay those of the first run."""
    outcomes = Counter([test["verdict"], *test["reruns"]])
    failed = sum(number for verdict, number in outcomes.items() if verdict != PASS)
    tally = ", ".join(f"{verdict} {outcomes[verdict]}" for verdict in SEVERITY if outcomes[verdict])
    error = test.get("error") or test.get("reason") or "none recorded"
    test.update(verdict=FLAKY,
                reason=f"{failed}/{outcomes.total()} runs did not pass ({tally}){FIRST_ERROR}{error}")


def flaky_rate(test: dict[str, Any]) -> str:
    """`3/5 runs did not pass (fail 3, pass 2)`: the rate part of a flaky test's reason."""
    return (test.get("reason") or "").partition(FIRST_ERROR)[0]
