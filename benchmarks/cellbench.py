"""Time whole cells: one real `nox -s "cell(ID)"`, groups of cells one after another or several at once, and the
suites with one and with more pytest-xdist workers inside one cell environment.

Every cell result and environment goes under the scratch directory it is given, never build/ or reports/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.analysis import cell_breakdown, pytest_session_s, ratio, unrecorded_sessions
from benchmarks.envbench import BenchError, scoped_env
from kvmatrix.plan.pins import Cell
from kvmatrix.record.verdicts import RAN
from kvmatrix.run.cell import requirements, run_cell
from kvmatrix.run.env.envs import ensure_venv
from kvmatrix.run.env.install import freeze, install
from kvmatrix.run.process.pytest_run import run_modes, run_suites
from kvmatrix.settings import SETTINGS


def nox_cell_run(root: Path, cell: Cell, scratch: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `python -m nox -s "cell(ID)" -- --results DIR` in the checkout `root` (its venv under `scratch` via
    `--envdir`); its wall time split with `cell_breakdown` (with the command), and the cell record it wrote."""
    scratch.mkdir(parents=True, exist_ok=True)
    results, log = scratch / "nox-cells", scratch / "nox-cell.log"
    command = [sys.executable, "-m", "nox", "--envdir", str(scratch / "nox-envs"), "-s", f"cell({cell.id})",
               "--", "--results", str(results)]
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(command, check=False, cwd=root, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - start
    record_path = results / f"{cell.id}.json"
    if code != 0 or not record_path.exists():
        raise BenchError(f"nox cell {cell.id} exited {code}; see {log}")
    record = json.loads(record_path.read_text())
    work_dir = results / cell.id
    extra = unrecorded_sessions(work_dir_results(work_dir)) if work_dir.is_dir() else []
    return {"command": " ".join(command[1:]), **cell_breakdown(record, wall, extra_sessions=extra)}, record


def nox_cell(root: Path, cell: Cell, scratch: Path) -> dict[str, Any]:
    """`nox_cell_run`'s breakdown of one real `nox -s "cell(ID)"` in `root`."""
    return nox_cell_run(root, cell, scratch)[0]


def work_dir_results(cell_dir: Path) -> list[dict[str, Any]]:
    """The recorder's results files (`<mode>.json`) under a cell's work dir, the client environments' and the
    re-runs' included; the environments themselves (`venv`) are not searched."""
    found: list[dict[str, Any]] = []
    for root, dirs, names in os.walk(cell_dir):
        dirs[:] = [name for name in dirs if name != "venv"]
        for name in names:
            if name.endswith(".json"):
                payload = json.loads(Path(root, name).read_text())
                if isinstance(payload, dict) and "session_started_at" in payload:
                    found.append(payload)
    return found


def verdict_with_cause(test: dict[str, Any]) -> str:
    """A test's verdict as the matrix publishes it: with its attribution cause when it has one (`fail (cache)`),
    so that a side-by-side run also shows a failure that kept its verdict but moved to another cause."""
    return f"{test['verdict']} ({test['cause']})" if test.get("cause") else test["verdict"]


def verdicts_by_test(record: dict[str, Any]) -> dict[str, str]:
    """`mode::suite::test` → verdict with its cause (`verdict_with_cause`), for every test of every run of a cell
    record (core and client suites)."""
    return {f"{mode}::{test['suite']}::{test['name']}": verdict_with_cause(test)
            for mode, run in record.get("runs", {}).items() for test in run.get("tests", [])}


def suite_verdicts(record: dict[str, Any]) -> dict[str, str]:
    """`suite::mode` → the suite's published verdict in that registration mode (the record's `suites`)."""
    return {f"{suite}::{mode}": summary["verdict"] for suite, modes in record.get("suites", {}).items()
            for mode, summary in modes.items() if isinstance(summary, dict) and "verdict" in summary}


def verdict_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """How two `name → verdict` maps differ: names in both with another verdict (`before → after`), and names
    only one of them has."""
    return {"changed": sorted(f"{name}: {before[name]} → {after[name]}" for name in before.keys() & after.keys()
                              if before[name] != after[name]),
            "only_before": sorted(before.keys() - after.keys()),
            "only_after": sorted(after.keys() - before.keys())}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def versus(root: Path, against: str, cells: list[Cell], scratch: Path) -> dict[str, Any]:
    """Each of `cells` run by a real `nox -s "cell(ID)"` twice in one benchmark: in a git worktree of `against`
    (the previous harness, suites and registration) and in the checkout `root`, one right after the other (the
    order alternates from cell to cell, since the second run finds the uv and inductor caches the first filled).
    Per cell: both breakdowns, the speed-up (previous wall ÷ this wall) and how the verdicts differ, test by test
    (with their causes) and suite by suite (`verdict_changes`, previous → this)."""
    commit = _git(root, "rev-parse", f"{against}^{{commit}}")
    previous_root = scratch / "previous-tree"
    _git(root, "worktree", "add", "--detach", str(previous_root), commit)
    rows = []
    try:
        for number, cell in enumerate(cells):
            trees = {"previous": previous_root, "this": root}
            order = ["previous", "this"] if number % 2 == 0 else ["this", "previous"]
            ran = {name: nox_cell_run(trees[name], cell, scratch / cell.id / name) for name in order}
            (before, before_record), (after, after_record) = ran["previous"], ran["this"]
            rows.append({"cell": cell.id, "order": order, "previous": before, "this": after,
                         "speedup": ratio(before["total_s"], after["total_s"]),
                         "tests": verdict_changes(verdicts_by_test(before_record), verdicts_by_test(after_record)),
                         "suites": verdict_changes(suite_verdicts(before_record), suite_verdicts(after_record))})
    finally:
        _git(root, "worktree", "remove", "--force", str(previous_root))
    return {"against": against, "previous_commit": commit, "this_commit": _git(root, "rev-parse", "HEAD"),
            "this_uncommitted": bool(_git(root, "status", "--porcelain")), "cells": rows}


def run_selected_cell(python: str, cell: Cell, scratch: Path, selection: list[str] | None) -> dict[str, Any]:
    """`kvmatrix.run.cell.run_cell` on `selection` after a fresh `uv venv` (as nox makes one), its record written
    under `scratch`; BenchError when the cell did not run."""
    record = run_cell(cell, (scratch / cell.id / "venv", python), scratch, selection=selection)
    if record["status"] != RAN:
        raise BenchError(f"{cell.id} ended {record['status']}: {record['status_reason']}")
    return record


def run_cells(python: str, cells: list[Cell], scratch: Path, selection: list[str] | None,
              at_once: int) -> dict[str, Any]:
    """Run `cells` with `run_selected_cell`, `at_once` at a time; the wall time of the whole group and each
    cell's breakdown."""
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        records = list(pool.map(lambda c: run_selected_cell(python, c, scratch, selection), cells))
    wall = time.monotonic() - start
    return {"cells": [c.id for c in cells], "at_once": at_once, "wall_s": round(wall, 2),
            "breakdowns": [cell_breakdown(record) for record in records]}


def _workers_run(interpreter: str, root: Path, work: Path, selection: list[str], workers: int) -> dict[str, Any]:
    """One `kvmatrix.run.process.pytest_run.run_suites` with registration and `KVCC_WORKERS=workers` (pytest-xdist's `-n`)."""
    with scoped_env(KVCC_WORKERS=str(workers)):
        run = run_suites(interpreter, root, "with", work, selection=selection)
    return {"workers": workers, "exit_code": run["exit_code"], "wall_s": run["duration_s"],
            "pytest_session_s": pytest_session_s(run["log_tail"]),
            "tests_s": round(sum(t["duration_s"] for t in run["tests"]), 2),
            "verdicts": {t["name"]: t["verdict"] for t in run["tests"]}}


def _cell_env(python: str, cell: Cell, venv: Path) -> str:
    """A fresh environment of `cell` (as run_cell installs it); its interpreter."""
    interpreter = ensure_venv(venv, python)
    outcome = install(interpreter, requirements(cell))
    if outcome.status != RAN:
        raise BenchError(f"installing {cell.id} ended {outcome.status}: {outcome.reason}")
    return interpreter


def _differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tests of `before` whose verdict is not the same in `after`."""
    return sorted(name for name, verdict in before.items() if after.get(name) != verdict)


def modes_effect(root: Path, python: str, cell: Cell, scratch: Path, selection: list[str]) -> dict[str, Any]:
    """A cell's two registration runs (`kvmatrix.run.process.pytest_run.run_modes`) one after the other (`KVCC_MODES_AT_ONCE=1`)
    and at the same time (2, the default), in one fresh environment of `cell`: wall time, each run's process
    time, and whether any verdict differs."""
    interpreter = _cell_env(python, cell, scratch / "venv")
    rows, verdicts = [], []
    for at_once in (1, 2):
        with scoped_env(KVCC_MODES_AT_ONCE=str(at_once)):
            start = time.monotonic()
            runs = run_modes(interpreter, root, scratch / f"at-once-{at_once}", selection=selection)
            wall = time.monotonic() - start
        verdicts.append(verdicts_by_test({"runs": runs}))
        rows.append({"at_once": at_once, "wall_s": round(wall, 2),
                     "process_s": {mode: run["duration_s"] for mode, run in runs.items()},
                     "tests_s": round(sum(t["duration_s"] for run in runs.values() for t in run["tests"]), 2),
                     "tests": len(verdicts[-1])})
    one, both = verdicts
    return {"cell": cell.id, "targets": selection, "rows": rows,
            "verdicts_differing": _differing(one, both)}


def xdist_effect(root: Path, python: str, cell: Cell, scratch: Path, selection: list[str],
                 workers: int) -> dict[str, Any]:
    """The same tests run by `kvmatrix.run.process.pytest_run.run_suites` with the cells' default number of pytest-xdist
    workers (KVCC_WORKERS's default) and with `workers`, in one fresh environment of `cell`."""
    interpreter = _cell_env(python, cell, scratch / "venv")
    xdist = next((line for line in freeze(interpreter) if line.lower().startswith("pytest-xdist")), "?")
    default = _workers_run(interpreter, root, scratch / "default", selection, int(SETTINGS["KVCC_WORKERS"].default))
    more = _workers_run(interpreter, root, scratch / f"workers-{workers}", selection, workers)
    return {"cell": cell.id, "targets": selection, "xdist": xdist, "default": default, "parallel": more,
            "verdicts_differing": _differing(default["verdicts"], more["verdicts"])}
