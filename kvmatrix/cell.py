"""Run one cell from the host: install its pins, run the suites with and without registration, and
write the cell's full record (publish splits it into matrix.json and the cell's detail file). Needs no
torch: everything torch-related runs in subprocesses inside the cell's own environment.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .causes import attribute_compat
from .columns import discover_suites
from .install import InstallOutcome, freeze, install
from .metrics import cell_metrics
from .paths import relative_paths_in
from .pins import Cell
from .procgroup import run_contained
from .report import write_json_atomic
from .reruns import RERUN_ENV, rerun_failures
from .verdicts import ERROR, RAN, summarize_suites

# setuptools: inductor on torch <= 2.6 imports it (torch.utils.cpp_extension) and uv environments, unlike
# pip-made ones, do not seed it; without it every compile test would fail for a reason no user has.
SUITE_REQUIREMENTS = ["pytest>=8", "pytest-xdist>=3", "pytest-timeout>=2", "hypothesis>=6", "setuptools"]
RUN_ORDER = ("without", "with")
# Both registration modes run at once by default: each is its own pytest process, and on a 2-core machine
# the pair finishes in about half the time one after the other takes (1.9x in benchmarks/RESULTS.md), with
# the same verdicts. KVCC_MODES_AT_ONCE=1 runs them one after the other.
MODES_AT_ONCE = 2
RUN_TIMEOUT_S = 3600  # the whole pytest process; a backstop behind the per-test timeout
TEST_TIMEOUT_S = 900  # one test (pytest-timeout); KVCC_TEST_TIMEOUT_S overrides
WORKERS = 1  # pytest-xdist workers per cell; KVCC_WORKERS overrides. One worker already isolates crashes.
MAX_WORKER_RESTARTS = 16  # then xdist stops; the tests it never ran are recorded as errors
MEMORY_LIMIT_GB = 16  # per test process (KVCC_MEMORY_LIMIT_GB overrides), out of this machine's 24
LOG_TAIL_LINES = 40
# Nothing inside a cell may reach a model hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def requirements(cell: Cell) -> list[str]:
    """The exact pins plus what the suites themselves need."""
    return [f"torch=={cell.torch}", f"transformers=={cell.transformers}", *SUITE_REQUIREMENTS]


def repro_command(cell: Cell) -> str:
    """The one-line command that reruns this cell: its nox session for a pinned cell, the cell runner on the
    exact pair for a cell whose versions a selector chose (it has no nox session of its own)."""
    if cell.requested:
        return f"python -m kvmatrix.cell_cli --pair {cell.id}"
    return f"nox -s 'cell({cell.id})'"


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def pytest_options(env: dict[str, str]) -> list[str]:
    """Recorder plugin, crash isolation (xdist restarts a dead worker and reports its test) and a per-test
    timeout (signal method: the hung test fails with a Timeout, its worker lives on; a test stuck in C code,
    which the signal never reaches, is ended with its worker by suites.hang_guard a little later).
    KVCC_EXTRA_PLUGINS (comma-separated modules) adds plugins, e.g. tests.faults.crash_plugin for
    fault-injection runs."""
    workers = env.get("KVCC_WORKERS", str(WORKERS))
    timeout = env.get("KVCC_TEST_TIMEOUT_S", str(TEST_TIMEOUT_S))
    extra = [arg for plugin in env.get("KVCC_EXTRA_PLUGINS", "").split(",") if plugin for arg in ("-p", plugin)]
    return [
        "-p", "suites.recorder", "-p", "suites.hang_guard", *extra,
        "-p", "no:cacheprovider", "-p", "no:logging", "-q",
        "-n", workers, "--max-worker-restart", env.get("KVCC_MAX_WORKER_RESTART", str(MAX_WORKER_RESTARTS)),
        "--timeout", timeout, "--timeout-method", "signal",
    ]


def run_suites(python: str, repo_root: Path, mode: str, work_dir: Path, timeout_s: int = RUN_TIMEOUT_S,
               selection: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One pytest process over suites/ in `mode` ("with" / "without" registration); returns the run.

    `selection` (pytest node ids such as `suites/test_roundtrip.py::test_x[DynamicCache]`) runs only
    those tests instead of the whole of suites/. `env` adds variables to the process's environment.

    A crash or timeout leaves no results file: the run then has no tests, which the verdict roll-up
    turns into `error` for every suite, with the exit status and the log tail kept for the reader. The
    run's process group is killed when it returns, so no worker outlives it.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    results, log = work_dir / f"{mode}.json", work_dir / f"{mode}.log"
    results.unlink(missing_ok=True)
    process_env = {**os.environ, **(env or {}), **OFFLINE_ENV, "KVCC_REGISTRATION": mode,
                   "KVCC_RESULTS": str(results), "PYTHONPATH": str(repo_root)}
    process_env.setdefault("KVCC_MEMORY_LIMIT_GB", str(MEMORY_LIMIT_GB))
    targets = ["suites"] if selection is None else selection
    command = [python, "-m", "pytest", *targets, *pytest_options(process_env)]
    started_at, start = time.time(), time.monotonic()
    with log.open("w") as out:  # no process of the run (a hung xdist worker) outlives it
        exit_code = run_contained(command, cwd=repo_root, env=process_env, out=out, timeout_s=timeout_s)
    run: dict[str, Any] = {"exit_code": exit_code, "started_at": round(started_at, 2),
                           "duration_s": round(time.monotonic() - start, 2), "log_tail": _tail(log), "tests": []}
    if results.exists():
        payload = json.loads(results.read_text())
        run.update(tests=payload["tests"], meta={k: v for k, v in payload.items() if k != "tests"})
    return run


def run_modes(python: str, repo_root: Path, work_dir: Path, selection: list[str] | None = None, *,
              selections: dict[str, list[str]] | None = None,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """`run_suites` in every mode of RUN_ORDER, KVCC_MODES_AT_ONCE (default MODES_AT_ONCE) of them at a time;
    the runs by mode. `selections` (mode -> node ids) runs only the modes it names, each on its own tests,
    instead; `env` goes to every run (see run_suites)."""
    chosen = selections if selections is not None else dict.fromkeys(RUN_ORDER, selection)
    modes = [mode for mode in RUN_ORDER if mode in chosen]
    at_once = max(1, int(os.environ.get("KVCC_MODES_AT_ONCE", MODES_AT_ONCE)))
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        finished = pool.map(
            lambda mode: run_suites(python, repo_root, mode, work_dir, selection=chosen[mode], env=env), modes
        )
        return dict(zip(modes, finished, strict=True))


def rerun_modes(python: str, repo_root: Path, runs: dict[str, Any], work_dir: Path,
                test_dir: str = "suites") -> dict[str, Any]:
    """Re-run the failing tests of `runs` in fresh processes and mark the ones whose outcome changes
    `flaky` (kvmatrix.reruns.rerun_failures, with `test_dir` holding the test files); each batch is a
    `run_modes` with KVCC_LADDER=0 in `work_dir / "rerun-<k>"`. Updates `runs` in place and returns it."""
    def batch(selections: dict[str, list[str]], where: Path) -> dict[str, Any]:
        return run_modes(python, repo_root, where, selections=selections, env=RERUN_ENV)

    return rerun_failures(runs, batch, work_dir, test_dir)


def build_record(cell: Cell, outcome: InstallOutcome, frozen: list[str], runs: dict[str, Any],
                 duration_s: float, suites: list[str]) -> dict[str, Any]:
    """Assemble the cell's full record (docs/matrix-schema.md, "Cell record"), its `suites` summarised
    with the columns `suites`, every absolute path in it rewritten (kvmatrix.paths); a `with` test that
    fails where its `without` twin passes gets cause `compat` and is listed in `compat_regressions`."""
    status = outcome.status
    if status == RAN and not any(run.get("tests") for run in runs.values()):
        status = ERROR
    meta = next((runs[m]["meta"] for m in ("with", "without") if "meta" in runs.get(m, {})), {})
    with_meta = runs.get("with", {}).get("meta", {})
    return relative_paths_in({
        **cell.to_json(),
        "status": status,
        "status_reason": outcome.reason if outcome.status != RAN else (
            None if status == RAN else "no suite run reported any test; see the runs' log tails"),
        "python": meta.get("python"),
        "resolved": meta.get("versions", {}),
        "freeze": frozen,
        "layout": meta.get("layout"),
        "static_layer_init": meta.get("static_layer_init"),
        "registration_report": with_meta.get("registration_report", []),
        "compat_regressions": attribute_compat(runs),
        "runs": runs,
        "suites": summarize_suites(runs, suites, status),
        "metrics": cell_metrics(runs),
        "repro": repro_command(cell),
        "install_duration_s": outcome.duration_s,
        "duration_s": round(duration_s, 2),
    })


def run_cell(cell: Cell, python: str, repo_root: Path, results_dir: Path,
             selection: list[str] | None = None) -> dict[str, Any]:
    """Install, run both modes (concurrently unless KVCC_MODES_AT_ONCE=1), re-run what did not pass
    (rerun_modes; KVCC_RERUNS=0 skips it), write `results_dir/<cell id>.json`; never raises for a verdict.
    `selection` runs only those suite tests (see run_suites)."""
    start = time.monotonic()
    work_dir = results_dir / cell.id
    work_dir.mkdir(parents=True, exist_ok=True)
    outcome = install(python, requirements(cell))
    runs: dict[str, Any] = {}
    frozen: list[str] = []
    if outcome.status == RAN:
        frozen = freeze(python)
        runs = run_modes(python, repo_root, work_dir, selection=selection)
        rerun_modes(python, repo_root, runs, work_dir)
    record = build_record(cell, outcome, frozen, runs, time.monotonic() - start, discover_suites(repo_root))
    write_json_atomic(results_dir / f"{cell.id}.json", record)
    return record
