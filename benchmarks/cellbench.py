"""Time whole cells: one real `nox -s "cell(ID)"`, groups of cells one after another or several at once, and the
suites with one and with more pytest-xdist workers inside one cell environment.

Every cell result and environment goes under the scratch directory it is given, never build/ or reports/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.analysis import cell_breakdown, pytest_session_s
from benchmarks.envbench import BenchError, scoped_env
from kvmatrix.plan.pins import Cell
from kvmatrix.record.verdicts import RAN
from kvmatrix.run.cell import requirements, run_cell
from kvmatrix.run.envs import ensure_venv
from kvmatrix.run.install import freeze, install
from kvmatrix.run.pytest_run import run_modes, run_suites
from kvmatrix.settings import SETTINGS


def nox_cell(root: Path, cell: Cell, scratch: Path) -> dict[str, Any]:
    """Run `python -m nox -s "cell(ID)" -- --results DIR` (its venv under `scratch` via `--envdir`) and split
    its wall time with `cell_breakdown`."""
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
    return {"command": " ".join(command[1:]), **cell_breakdown(json.loads(record_path.read_text()), wall)}


def run_selected_cell(root: Path, python: str, cell: Cell, scratch: Path, selection: list[str] | None) -> dict[str, Any]:
    """`kvmatrix.run.cell.run_cell` on `selection` after a fresh `uv venv` (as nox makes one), its record written
    under `scratch`; BenchError when the cell did not run."""
    interpreter = ensure_venv(scratch / cell.id / "venv", python)
    record = run_cell(cell, interpreter, root, scratch, selection=selection)
    if record["status"] != RAN:
        raise BenchError(f"{cell.id} ended {record['status']}: {record['status_reason']}")
    return record


def run_cells(root: Path, python: str, cells: list[Cell], scratch: Path, selection: list[str] | None,
              at_once: int) -> dict[str, Any]:
    """Run `cells` with `run_selected_cell`, `at_once` at a time; the wall time of the whole group and each
    cell's breakdown."""
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        records = list(pool.map(lambda c: run_selected_cell(root, python, c, scratch, selection), cells))
    wall = time.monotonic() - start
    return {"cells": [c.id for c in cells], "at_once": at_once, "wall_s": round(wall, 2),
            "breakdowns": [cell_breakdown(record) for record in records]}


def _workers_run(interpreter: str, root: Path, work: Path, selection: list[str], workers: int) -> dict[str, Any]:
    """One `kvmatrix.run.pytest_run.run_suites` with registration and `KVCC_WORKERS=workers` (pytest-xdist's `-n`)."""
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


def _verdicts(runs: dict[str, Any]) -> dict[str, str]:
    return {f"{mode}::{t['name']}": t["verdict"] for mode, run in runs.items() for t in run["tests"]}


def _differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The tests of `before` whose verdict is not the same in `after`."""
    return sorted(name for name, verdict in before.items() if after.get(name) != verdict)


def modes_effect(root: Path, python: str, cell: Cell, scratch: Path, selection: list[str]) -> dict[str, Any]:
    """A cell's two registration runs (`kvmatrix.run.pytest_run.run_modes`) one after the other (`KVCC_MODES_AT_ONCE=1`)
    and at the same time (2, the default), in one fresh environment of `cell`: wall time, each run's process
    time, and whether any verdict differs."""
    interpreter = _cell_env(python, cell, scratch / "venv")
    rows, verdicts = [], []
    for at_once in (1, 2):
        with scoped_env(KVCC_MODES_AT_ONCE=str(at_once)):
            start = time.monotonic()
            runs = run_modes(interpreter, root, scratch / f"at-once-{at_once}", selection=selection)
            wall = time.monotonic() - start
        verdicts.append(_verdicts(runs))
        rows.append({"at_once": at_once, "wall_s": round(wall, 2),
                     "process_s": {mode: run["duration_s"] for mode, run in runs.items()},
                     "tests_s": round(sum(t["duration_s"] for run in runs.values() for t in run["tests"]), 2),
                     "tests": len(verdicts[-1])})
    one, both = verdicts
    return {"cell": cell.id, "targets": selection, "rows": rows,
            "verdicts_differing": _differing(one, both)}


def xdist_effect(root: Path, python: str, cell: Cell, scratch: Path, selection: list[str],
                 workers: int) -> dict[str, Any]:
    """The same tests run by `kvmatrix.run.pytest_run.run_suites` with the cells' default number of pytest-xdist
    workers (KVCC_WORKERS's default) and with `workers`, in one fresh environment of `cell`."""
    interpreter = _cell_env(python, cell, scratch / "venv")
    xdist = next((line for line in freeze(interpreter) if line.lower().startswith("pytest-xdist")), "?")
    default = _workers_run(interpreter, root, scratch / "default", selection, int(SETTINGS["KVCC_WORKERS"].default))
    more = _workers_run(interpreter, root, scratch / f"workers-{workers}", selection, workers)
    return {"cell": cell.id, "targets": selection, "xdist": xdist, "default": default, "parallel": more,
            "verdicts_differing": _differing(default["verdicts"], more["verdicts"])}
