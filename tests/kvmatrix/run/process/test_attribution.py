"""The runs of one environment share no-cache probe outcomes through a folder (kvmatrix.run.process.attribution.shared_outcome):
one computes a key, the others read it; a stuck or dead holder never stops the others."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import time
from dataclasses import asdict
from pathlib import Path

from kvmatrix.run.process.attribution import Failure, probe_files, probe_key, shared_outcome

KEY = "('suites.test_x.probe', \"[('mode', 'strict')]\")"
FAILS = Failure("torch._export.serde.serialize.SerializeError", "Failed serializing node flat_apply",
                "torch/_export/serde/serialize.py:serialize_graph")
OTHER = Failure("builtins.ValueError", "would be wrong", "torch/export/_trace.py:_export")


def _counted(log: Path, outcome: Failure | None, seconds: float = 0.0):
    def compute() -> Failure | None:
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        time.sleep(seconds)
        return outcome
    return compute


def _ask(folder: str, log: str, answers: str) -> None:
    outcome = shared_outcome(Path(folder), KEY, _counted(Path(log), FAILS, seconds=0.5))
    with open(answers, "a") as out:
        out.write(f"{outcome}\n")


def _hold_then_die(lock_path: str, ready: str) -> None:
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        Path(ready).touch()
        time.sleep(60)


def _lock_file(folder: Path) -> Path:
    return probe_files(folder, KEY)[1]


def test_a_stored_failure_is_read_back_whole_not_computed_again(tmp_path: Path) -> None:
    log = tmp_path / "computed"
    first = shared_outcome(tmp_path / "outcomes", KEY, _counted(log, FAILS))
    second = shared_outcome(tmp_path / "outcomes", KEY, _counted(log, OTHER))
    assert first == second == FAILS
    assert len(log.read_text().splitlines()) == 1


def test_a_stored_pass_is_read_back_as_no_failure(tmp_path: Path) -> None:
    log = tmp_path / "computed"
    shared_outcome(tmp_path / "outcomes", KEY, _counted(log, None))
    assert shared_outcome(tmp_path / "outcomes", KEY, _counted(log, OTHER)) is None
    assert len(log.read_text().splitlines()) == 1


def test_an_outcome_stored_in_the_format_before_failures_were_compared_is_never_read(tmp_path: Path) -> None:
    folder, log = tmp_path / "outcomes", tmp_path / "computed"
    folder.mkdir()
    stored = probe_files(folder, KEY)[0]
    (folder / stored.name.replace(".failure.json", ".outcome")).write_text('["not-cache", "fails"]')
    assert shared_outcome(folder, KEY, _counted(log, FAILS)) == FAILS
    assert json.loads(stored.read_text()) == {"format": 2, "failure": asdict(FAILS)}


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
    assert answers.read_text().splitlines() == [str(FAILS)] * 3


def test_a_run_kept_waiting_computes_itself_and_stores_nothing(tmp_path: Path) -> None:
    folder, log = tmp_path / "outcomes", tmp_path / "computed"
    folder.mkdir()
    with _lock_file(folder).open("w") as held:  # another run is stuck in this probe
        fcntl.flock(held, fcntl.LOCK_EX)
        outcome = shared_outcome(folder, KEY, _counted(log, None), wait_s=0.3)
    assert outcome is None
    assert not list(folder.glob("*.failure.json"))
    later = shared_outcome(folder, KEY, _counted(log, FAILS))
    assert later == FAILS  # nothing was stored by the run that gave up waiting
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
    assert shared_outcome(folder, KEY, _counted(log, FAILS), wait_s=30) == FAILS
    assert len(log.read_text().splitlines()) == 1


def _export_probe(model_type: str) -> None:
    """A named probe."""


def test_two_lambdas_of_one_module_with_the_same_arguments_are_two_probes() -> None:
    # test_families marks three routes with `lambda model_type: ...` probes: each must keep its own outcome.
    exports = lambda model_type: None  # noqa: E731
    compiles = lambda model_type: None  # noqa: E731
    arguments = {"model_type": "gemma2"}
    assert exports.__qualname__ == compiles.__qualname__
    assert probe_key(exports, arguments) != probe_key(compiles, arguments)


def test_one_probe_with_the_same_plain_arguments_is_one_key() -> None:
    assert probe_key(_export_probe, {"model_type": "gemma2"}) == probe_key(_export_probe, {"model_type": "gemma2"})
    assert probe_key(_export_probe, {"model_type": "gemma2"}) != probe_key(_export_probe, {"model_type": "qwen3"})
