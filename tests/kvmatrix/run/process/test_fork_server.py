"""Workers forked from an environment's fork server (kvmatrix.run.process.fork_client, kvmatrix.run.process.fork_server), for real:
this interpreter serves, pytest-xdist runs through it. (Crashes, hangs and memory faults in forked workers:
tests/integration/test_pytest_run_faults.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

from kvmatrix.run.process.fork_client import SOCKET_VARIABLE, serving
from kvmatrix.run.process.pytest_run import run_environment, run_suites
from tests.support.checkouts import copy_harness

REPO = Path(__file__).resolve().parents[4]
PRELOADED_HERE = "wave"
"""A standard-library module neither pytest nor the plugins import: in a worker only when preloaded."""


def checkout(root: Path, test_body: str) -> Path:
    """A checkout with the harness files the runs need and one suite test whose body is `test_body`."""
    copy_harness(root)
    (root / "suites" / "conftest.py").write_text("")
    (root / "suites" / "test_probe.py").write_text(f"import os, sys\n\ndef test_probe():\n{test_body}\n")
    return root


def serve_and_run(root: Path, work: Path, modules: list[str]) -> tuple[dict[str, str], dict, str]:
    """Serve with `modules` preloaded and run the probe test through the server; (what the run added to its
    environment, the run, the server's log)."""
    log_path = work / "forkserver.log"
    work.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, serving(sys.executable, run_environment(sys.executable, root), root, log,
                                            modules=modules) as forked:
        run = run_suites(sys.executable, root, "with", work, selection=["suites/test_probe.py"], env=forked)
    return forked, run, log_path.read_text()


def verdicts(run: dict) -> list[tuple[str, str | None]]:
    return [(test["verdict"], test["error"]) for test in run["tests"]]


def test_a_forked_worker_has_what_the_server_preloaded_and_runs_the_run_s_environment(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", f"    assert {PRELOADED_HERE!r} in sys.modules\n"
                                       "    assert os.environ['KVCC_REGISTRATION'] == 'with'\n")
    forked, run, log = serve_and_run(root, tmp_path / "work", [PRELOADED_HERE])
    assert SOCKET_VARIABLE in forked, log
    assert verdicts(run) == [("pass", None)]


def test_a_started_worker_lacks_what_a_server_would_have_preloaded(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", f"    assert {PRELOADED_HERE!r} not in sys.modules\n")
    run = run_suites(sys.executable, root, "with", tmp_path / "work", selection=["suites/test_probe.py"])
    assert verdicts(run) == [("pass", None)]


def test_a_server_left_with_a_second_thread_refuses_and_the_run_starts_its_workers(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", f"    assert {PRELOADED_HERE!r} not in sys.modules\n")
    (root / "threaded.py").write_text("import threading, time\n"
                                      "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    _, run, log = serve_and_run(root, tmp_path / "work", ["threaded", PRELOADED_HERE])
    assert "refusing to fork" in log
    assert "this worker starts on its own: 2 threads" in (tmp_path / "work" / "with.log").read_text()
    assert verdicts(run) == [("pass", None)]


def test_a_server_whose_import_fails_refuses_and_the_run_starts_its_workers(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", "    pass\n")
    _, run, log = serve_and_run(root, tmp_path / "work", ["no_such_module_here"])
    assert "importing no_such_module_here failed: ModuleNotFoundError" in log
    assert verdicts(run) == [("pass", None)]


def test_no_server_starts_with_preload_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KVCC_PRELOAD", "0")
    root = checkout(tmp_path / "repo", "    pass\n")
    forked, run, _ = serve_and_run(root, tmp_path / "work", [PRELOADED_HERE])
    assert forked == {}
    assert verdicts(run) == [("pass", None)]
