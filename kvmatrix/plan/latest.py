"""The `latest` matrix: resolve a pins file's selectors against the package index, then run and publish
its cells like the default matrix (each in its own reused uv environment).

The plan step (`plan`) is the only one that reads the index; `nox -s latest -- --plan` stops after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvmatrix.plan.pins import Pins, ReleasesFn, fixed, load_pins, resolve
from kvmatrix.plan.releases import releases_as_of
from kvmatrix.publish.publish_run import publish
from kvmatrix.run.cell import run_cell
from kvmatrix.run.envs import ensure_venv


def resolve_latest(pins_path: Path, releases: ReleasesFn | None = None) -> Pins:
    """The pins file with its selectors resolved into concrete cells, as of its index snapshot or, where it
    names none, now (kvmatrix.plan.pins.fixed: the time is recorded, and every cell installs as of it);
    `releases` lists the releases (default: the index's as of that snapshot). Raises IndexUnavailable
    (report it as `infra`) when the index cannot be read, PinsError for a bad file or a selector matching
    nothing."""
    pins = fixed(load_pins(pins_path))
    return resolve(pins, releases or releases_as_of(pins.snapshot))


def describe(pins: Pins) -> list[str]:
    """One line per planned cell: its id and the selectors that chose it."""
    lines = []
    for cell in pins.cells:
        chosen = ", ".join(f"{package} {selector}" for package, selector in cell.requested)
        lines.append(f"{cell.id}" + (f" (from {chosen})" if chosen else " (exact pins)"))
    return lines


def run_planned(pins: Pins, root: Path, work: Path, reports: Path) -> dict[str, Any]:
    """Run every cell of resolved `pins` (environments in `work`/envs, results in `work`/cells) and
    publish them into `reports`; returns the matrix."""
    work = work.resolve()
    results = work / "cells"
    results.mkdir(parents=True, exist_ok=True)
    for cell in pins.cells:
        (results / f"{cell.id}.json").unlink(missing_ok=True)
        python = ensure_venv(work / "envs" / cell.id, pins.python_for(cell))
        run_cell(cell, python, root, results)
    return publish(pins, pins.cells, results, reports)
