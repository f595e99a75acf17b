"""The `latest` matrix's plan: a pins file's selectors resolved against the package index (the only step
that reads it; `nox -s latest -- --plan` stops after it). Its cells then run and publish like the default
matrix's (kvmatrix.run.cell.run_cells)."""

from __future__ import annotations

from pathlib import Path

from kvmatrix.plan.pins import Pins, ReleasesFn, fixed, load_pins, resolve
from kvmatrix.plan.releases import releases_as_of


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
