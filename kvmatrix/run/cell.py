"""Run one cell from the host: install its pins, run the suites in both registration modes, re-run what
failed, and write the cell's full record (publish splits it into matrix.json and the cell's detail file).
Needs no torch: everything torch-related runs in subprocesses inside the cell's own environment.
"""

from __future__ import annotations

import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.files import write_json_atomic
from kvmatrix.plan.pins import Cell, Pins, utc_now
from kvmatrix.record.cell_record import InstallOutcome, build_record
from kvmatrix.record.columns import discover_suites
from kvmatrix.record.verdicts import RAN
from kvmatrix.run.clients import core_selection, every_client_requirements, merge_runs, run_clients
from kvmatrix.run.env.envs import ensure_venv
from kvmatrix.run.env.install import freeze, install
from kvmatrix.run.inputs import cell_inputs, python_version
from kvmatrix.run.process.pytest_run import preloaded, rerun_modes, run_modes
from kvmatrix.run.process.slots import RunSlots


def requirements(cell: Cell) -> list[str]:
    """The exact pins plus what the suites themselves need: pyproject.toml's `suites` dependency group."""
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    return [f"torch=={cell.torch}", f"transformers=={cell.transformers}", *groups["suites"]]


def inputs_of(cell: Cell, python: str, repo_root: Path = REPO_ROOT, constraints: Path | None = None,
              selection: list[str] | None = None) -> dict[str, Any] | None:
    """The cell's inputs (kvmatrix.run.inputs.cell_inputs) for its requirements and its clients' environments,
    as of its index snapshot, from `repo_root` (a test's copy): what run_cell records and reuse compares."""
    wanted = requirements(cell)
    return cell_inputs(wanted, python, repo_root, constraints=constraints, selection=selection,
                       clients=every_client_requirements(wanted), snapshot=cell.snapshot)


def install_cell(cell: Cell, python: str, constraints: Path | None = None) -> InstallOutcome:
    """Install the cell's requirements in `python`'s environment as of its index snapshot, every package at
    the version `constraints` pins (a replay): how run_cell, one_test and the bisect install a cell."""
    return install(python, requirements(cell), constraints=constraints, snapshot=cell.snapshot)


def run_cell(cell: Cell, env: str | tuple[Path, str], results_dir: Path,
             selection: list[str] | None = None, constraints: Path | None = None) -> dict[str, Any]:
    """Run one cell for every tool that runs one (nox, tox, cell_cli, run_cells, the bench): in `env`, the
    interpreter of an environment made already (nox's, tox's) or (folder, CPython minor), a uv environment
    made there unless it exists (ensure_venv; its VenvError raised first), install (install_cell), run both
    modes, re-run what did not pass (rerun_modes), write `results_dir/<cell id>.json`; never raises for a
    verdict. `selection` runs only those suite tests; `constraints` replays a recorded run (install_cell).
    The record carries the cell's inputs (found before installing) and when the run finished. Each client
    runs in its own environment (kvmatrix.run.clients) while the core runs, its tests merged into the runs,
    TICO's registration as `runs["tico"]`; `clients` says how each went. Each pytest process of the cell holds
    one of its KVCC_MODES_AT_ONCE slots, each environment forking its workers from a server of its own."""
    python = env if isinstance(env, str) else ensure_venv(*env)
    start = time.monotonic()
    work_dir = results_dir / cell.id
    work_dir.mkdir(parents=True, exist_ok=True)
    inputs = inputs_of(cell, python, constraints=constraints, selection=selection)
    outcome = install_cell(cell, python, constraints)
    runs: dict[str, Any] = {}
    frozen: list[str] = []
    clients: dict[str, Any] | None = None
    if outcome.status == RAN:
        frozen = freeze(python)
        slots = RunSlots.from_settings()
        minor = ".".join((python_version(python) or "").split(".")[:2])
        with ThreadPoolExecutor(max_workers=1) as side:
            client_work = side.submit(run_clients, requirements(cell), minor, work_dir, selection,
                                      constraints, slots, cell.snapshot)
            with preloaded(python, work_dir) as forked:
                runs = run_modes(python, REPO_ROOT, work_dir, selection=core_selection(selection),
                                 slots=slots, env=forked)
                rerun_modes(python, runs, work_dir, slots=slots, env=forked)
            clients, client_runs = client_work.result()
        for each in client_runs:
            merge_runs(runs, each)
    record = build_record(cell, outcome, frozen, runs, time.monotonic() - start, discover_suites(),
                          inputs, utc_now(), clients)
    write_json_atomic(results_dir / f"{cell.id}.json", record)
    return record


def run_cells(pins: Pins, work: Path) -> Path:
    """Run every cell of resolved `pins`, each in its own reused environment (`work`/envs/<cell id>);
    returns the folder of their results (`work`/cells), from which a publish reads them."""
    work = work.resolve()
    results = work / "cells"
    results.mkdir(parents=True, exist_ok=True)
    for cell in pins.cells:
        (results / f"{cell.id}.json").unlink(missing_ok=True)
        run_cell(cell, (work / "envs" / cell.id, pins.python_for(cell)), results)
    return results
