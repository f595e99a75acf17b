"""The pytest processes of a cell: one per registration mode over suites/, with the recorder, crash isolation
(xdist), a per-test timeout and the hang guard; concurrent modes sharing the cell's run slots
(kvmatrix.run.process.slots); fresh-process re-runs of what failed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.record.log_errors import first_error
from kvmatrix.record.verdicts import MODES
from kvmatrix.run.env.bytecode import bytecode_kept
from kvmatrix.run.env.bytecode_store import harvest, seed, store_dir
from kvmatrix.run.process.fork_client import PRELOADED, SOCKET_VARIABLE, end_run, serving
from kvmatrix.run.process.procgroup import run_contained
from kvmatrix.run.process.progress import PROGRESS_SUFFIX, reporting
from kvmatrix.run.process.reruns import RERUN_ENV, rerun_failures
from kvmatrix.run.process.slots import FIRST_RUN, RERUN, RunSlots, priority
from kvmatrix.run.process.threads import with_thread_share
from kvmatrix.settings import int_setting, setting

RUN_TIMEOUT_S = 3600  # the whole pytest process; a backstop behind the per-test timeout (KVCC_TEST_TIMEOUT_S)
LOG_TAIL_LINES = 40
PROBE_OUTCOMES_DIR = "probe-outcomes"
"""Under an environment's work dir: the no-cache probe outcomes its first runs share (KVCC_PROBE_OUTCOMES)."""
IN_CELL_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:logging")
"""pytest's options for every test run inside a cell (the suites, and the noxfile's cell test sessions): no
cache folder in the checkout, and no log capture, whose handler fails a test on a library's malformed log call
(torch 2.13's `torch.export.load` logs its weights_only fallback with two %s and one argument) instead of
reporting it."""
# Nothing inside a cell may reach a model hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def pytest_options(env: dict[str, str]) -> list[str]:
    """Recorder plugin, crash isolation (xdist restarts a dead worker and reports its test) and a per-test
    timeout (signal method: the hung test fails with a Timeout, its worker lives on; a test stuck in C code,
    which the signal never reaches, is ended with its worker by kvmatrix.run.process.hang_guard a little later).
    KVCC_EXTRA_PLUGINS (comma-separated modules) adds plugins, e.g. tests.faults.crash_plugin for
    fault-injection runs; a run with a fork server (KVCC_FORKSERVER) gets kvmatrix.run.process.forked_workers.

    Failures are reported with Python's own (native) traceback: pytest's default long form parses the source
    of every file in a traceback to show whole statements, for each failing test (the
    traceback of a failed export runs through the largest files of torch.export and dynamo), paid again in
    every re-run, and it changes nothing the record takes from the report (the crash line, reprcrash, is the
    same in every style; the detail file keeps the traceback's tail, kvmatrix.run.process.recorder)."""
    workers = str(int_setting("KVCC_WORKERS", env))
    timeout = str(int_setting("KVCC_TEST_TIMEOUT_S", env))
    restarts = str(int_setting("KVCC_MAX_WORKER_RESTART", env))
    plugins = (setting("KVCC_EXTRA_PLUGINS", env) or "").split(",")
    if env.get(SOCKET_VARIABLE):
        plugins.append("kvmatrix.run.process.forked_workers")
    extra = [arg for plugin in plugins if plugin for arg in ("-p", plugin)]
    return [
        "-p", "kvmatrix.run.process.recorder", "-p", "kvmatrix.run.process.hang_guard", *extra,
        *IN_CELL_OPTIONS, "-q", "--tb=native",
        "-n", workers, "--max-worker-restart", restarts,
        "--timeout", timeout, "--timeout-method", "signal",
    ]


def activated(python: str) -> dict[str, str]:
    """What activating the environment of `python` sets: its `bin` first on PATH, VIRTUAL_ENV. Tools the
    environment installs as commands are then found the way a user's activated shell finds them (ExecuTorch's
    serializer runs the `flatc` its wheel puts in `bin`)."""
    scripts = Path(python).parent
    return {"PATH": os.pathsep.join([str(scripts), os.environ.get("PATH", os.defpath)]),
            "VIRTUAL_ENV": str(scripts.parent)}


def run_environment(python: str, repo_root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every pytest process of `python`'s environment runs with, less what each run sets
    (KVCC_REGISTRATION, KVCC_RESULTS): this process's, `env`, the activated environment, offline, the checkout
    on PYTHONPATH, its bytecode kept (kvmatrix.run.env.bytecode) and its share of the cores (kvmatrix.run.process.threads)."""
    return with_thread_share(bytecode_kept(python, {**os.environ, **(env or {}), **activated(python), **OFFLINE_ENV,
                                                    "PYTHONPATH": str(repo_root)}))


@contextmanager
def preloaded(python: str, work_dir: Path, env: dict[str, str] | None = None,
              also: Sequence[str] = ()) -> Iterator[dict[str, str]]:
    """The fork server of `python`'s environment for the runs of the block (kvmatrix.run.process.fork_client.serving,
    started with run_environment and the bytecode the store has for it, its output in
    `work_dir/forkserver.log`), importing PRELOADED and then `also`: yields what those runs add to their `env`
    to have their workers forked there ({} when KVCC_PRELOAD is 0). Where the server refuses to fork, each
    worker starts on its own instead."""
    work_dir.mkdir(parents=True, exist_ok=True)
    server_env = run_environment(python, REPO_ROOT, env)
    seed(python, store_dir(server_env))
    with ((work_dir / "forkserver.log").open("w") as log,
          serving(python, server_env, REPO_ROOT, log, modules=(*PRELOADED, *also)) as forked):
        yield forked


def run_suites(python: str, repo_root: Path, mode: str, work_dir: Path, timeout_s: int = RUN_TIMEOUT_S,
               selection: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One pytest process over suites/ in `mode` ("with" / "without" registration); returns the run.

    `selection` (pytest node ids such as `suites/test_roundtrip.py::test_x[DynamicCache]`) runs only
    those tests instead of the whole of suites/. `env` adds variables to the process's environment. The
    process keeps its bytecode in the environment (kvmatrix.run.env.bytecode), starting from what the machine-wide
    store holds for the same files and adding to it what it compiled (kvmatrix.run.env.bytecode_store), so later runs
    here and in other environments start faster, and runs torch on its share of the cores (kvmatrix.run.process.threads).

    A crash or timeout leaves no results file: the run then has no tests, which the verdict roll-up
    turns into `error` for every suite, with the exit status, the log tail and `log_reason` (the reason
    the whole log gives, kvmatrix.record.log_errors.first_error; None: none found) kept for the reader. The
    run's process group is killed when it returns, so no worker outlives it.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    results, log = work_dir / f"{mode}.json", work_dir / f"{mode}.log"
    results.unlink(missing_ok=True)
    Path(f"{results}{PROGRESS_SUFFIX}").unlink(missing_ok=True)
    process_env = {**run_environment(python, repo_root, env), "KVCC_REGISTRATION": mode, "KVCC_RESULTS": str(results)}
    targets = ["suites"] if selection is None else selection
    command = [python, "-m", "pytest", *targets, *pytest_options(process_env)]
    store = store_dir(process_env)
    started_at, start = time.time(), time.monotonic()
    seed(python, store)
    with log.open("w") as out:  # no process of the run (a hung xdist worker) outlives it
        exit_code = run_contained(command, cwd=repo_root, env=process_env, out=out, timeout_s=timeout_s)
    if process_env.get(SOCKET_VARIABLE):  # nor a worker forked for it
        end_run(process_env[SOCKET_VARIABLE], str(results))
    harvest(python, store)
    run: dict[str, Any] = {"exit_code": exit_code, "started_at": round(started_at, 2),
                           "duration_s": round(time.monotonic() - start, 2), "log_tail": _tail(log), "tests": []}
    if results.exists():
        payload = json.loads(results.read_text())
        run.update(tests=payload["tests"], meta={k: v for k, v in payload.items() if k != "tests"})
    if not run["tests"]:
        run["log_reason"] = first_error(log.read_text(errors="replace").splitlines() if log.exists() else [])
    return run


def run_modes(python: str, repo_root: Path, work_dir: Path, selection: list[str] | None = None, *,
              selections: dict[str, list[str]] | None = None, env: dict[str, str] | None = None,
              slots: RunSlots | None = None, phase: int = FIRST_RUN, label: str | None = None) -> dict[str, Any]:
    """`run_suites` in every mode of MODES; the runs by mode. Each run holds one of `slots` (default: slots
    of its own for KVCC_MODES_AT_ONCE runs, kvmatrix.settings) while its pytest process lives, ranked by
    `phase` and its number of targets (kvmatrix.run.process.slots), so runs of other environments sharing `slots`
    fill the cores with them. `selections` (mode -> node ids) runs only the modes it names (any mode, `tico`
    included), each on its own tests, instead; `env` goes to every run (see run_suites). `label` names the
    runs in the progress lines (default: the name of `work_dir`). First runs share the outcomes of their
    no-cache probes whose arguments are plain values in `work_dir / PROBE_OUTCOMES_DIR`, emptied first
    (kvmatrix.run.process.attribution)."""
    chosen = selections if selections is not None else dict.fromkeys(MODES, selection)
    modes = list(chosen)
    shared = slots if slots is not None else RunSlots.from_settings()
    progress_files = {mode: work_dir / f"{mode}.json{PROGRESS_SUFFIX}" for mode in modes}
    run_env = dict(env or {})
    if phase == FIRST_RUN:
        outcomes = work_dir / PROBE_OUTCOMES_DIR
        shutil.rmtree(outcomes, ignore_errors=True)
        run_env["KVCC_PROBE_OUTCOMES"] = str(outcomes)

    def run(mode: str) -> dict[str, Any]:
        targets = chosen[mode]
        with shared.hold(priority(phase, targets)):
            return run_suites(python, repo_root, mode, work_dir, selection=targets, env=run_env)

    with reporting(label or work_dir.name, progress_files), ThreadPoolExecutor(max_workers=max(1, len(modes))) as pool:
        return dict(zip(modes, pool.map(run, modes), strict=True))


def rerun_modes(python: str, runs: dict[str, Any], work_dir: Path,
                test_dir: str = "suites", slots: RunSlots | None = None,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """Re-run the failing tests of `runs` in fresh processes and mark the ones whose outcome changes
    `flaky` (kvmatrix.run.process.reruns.rerun_failures, with `test_dir` holding the test files); each batch is a
    `run_modes` with `env` and KVCC_LADDER=0 in `work_dir / "rerun-<k>"`, in the re-run phase of `slots`, its
    progress lines labelled `<work_dir name> rerun-<k>`. Updates `runs` in place and returns it."""
    def batch(selections: dict[str, list[str]], where: Path) -> dict[str, Any]:
        return run_modes(python, REPO_ROOT, where, selections=selections, env={**(env or {}), **RERUN_ENV},
                         slots=slots, phase=RERUN, label=f"{work_dir.name} {where.name}")

    return rerun_failures(runs, batch, work_dir, test_dir)
