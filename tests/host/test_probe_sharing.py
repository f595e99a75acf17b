"""The runs of one environment share no-cache probe outcomes through a folder (suites.attribution.shared_outcome):
one computes a key, the others read it; a stuck or dead holder never stops the others."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from pathlib import Path

from suites.attribution import probe_files, shared_outcome

KEY = "('suites.test_x.probe', \"[('mode', 'strict')]\")"


def _counted(log: Path, outcome: tuple[str, str], seconds: float = 0.0):
    def compute() -> tuple[str, str]:
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        time.sleep(seconds)
        return outcome
    return compute


def _ask(folder: str, log: str, answers: str) -> None:
    outcome = shared_outcome(Path(folder), KEY, _counted(Path(log), ("cache", "passes"), seconds=0.5))
    with open(answers, "a") as out:
        out.write(f"{outcome[0]}|{outcome[1]}\n")


def _hold_then_die(lock_path: str, ready: str) -> None:
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        Path(ready).touch()
        time.sleep(60)


def _lock_file(folder: Path) -> Path:
    return probe_files(folder, KEY)[1]


def test_a_stored_outcome_is_read_back_not_computed_again(tmp_path: Path) -> None:
    log = tmp_path / "computed"
    first = shared_outcome(tmp_path / "outcomes", KEY, _counted(log, ("not-cache", "fails without any cache too")))
    second = shared_outcome(tmp_path / "outcomes", KEY, _counted(log, ("cache", "would be wrong")))
    assert first == second == ("not-cache", "fails without any cache too")
    assert len(log.read_text().splitlines()) == 1


def test_runs_asking_at_the_same_time_compute_the_key_once(tmp_path: Path) -> None:
    folder, log, answers = tmp_path / "outcomes", tmp_path / "computed", tmp_path / "answers"
    context = multiprocessing.get_context("spawn")
    runs = [context.Process(target=_ask, args=(str(folder), str(log), str(answers))) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
        assert run.exitcode == 0
    assert len(log.read_text().splitlines()) == 1
    assert answers.read_text().splitlines() == ["cache|passes"] * 3


def test_a_run_kept_waiting_computes_itself_and_stores_nothing(tmp_path: Path) -> None:
    folder, log = tmp_path / "outcomes", tmp_path / "computed"
    folder.mkdir()
    with _lock_file(folder).open("w") as held:  # another run is stuck in this probe
        fcntl.flock(held, fcntl.LOCK_EX)
        outcome = shared_outcome(folder, KEY, _counted(log, ("cache", "passes")), wait_s=0.3)
    assert outcome == ("cache", "passes")
    assert not list(folder.glob("*.outcome"))
    later = shared_outcome(folder, KEY, _counted(log, ("not-cache", "fails")))
    assert later == ("not-cache", "fails")  # nothing was stored by the run that gave up waiting
    assert len(log.read_text().splitlines()) == 2


def test_a_run_that_dies_holding_a_key_leaves_it_to_the_next(tmp_path: Path) -> None:
    folder, log, ready = tmp_path / "outcomes", tmp_path / "computed", tmp_path / "ready"
    folder.mkdir()
    holder = multiprocessing.get_context("spawn").Process(target=_hold_then_die,
                                                          args=(str(_lock_file(folder)), str(ready)))
    holder.start()
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.kill()
    holder.join()
    assert shared_outcome(folder, KEY, _counted(log, ("cache", "passes")), wait_s=30) == ("cache", "passes")
    assert len(log.read_text().splitlines()) == 1
