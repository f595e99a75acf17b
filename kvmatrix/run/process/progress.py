"""What a running matrix says while it runs: "cell k of n" with an estimate from the last run's cell
durations, each registration mode's tests done so far, and a summary table when the run is published.

`nox -s matrix` writes the run's plan (`run-plan.json` in the results folder); each cell session reads it to
say where the run is. The in-cell recorder (kvmatrix/run/process/recorder.py) rewrites `<mode>.json.progress` ("done
collected") after every test, which the host polls while the modes run.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kvmatrix.record.verdicts import MODES, NA, PASS

PLAN_FILE = "run-plan.json"
PROGRESS_SUFFIX = ".progress"
POLL_S = 60.0


def write_plan(results: Path, cell_ids: Sequence[str], previous: dict[str, Any] | None) -> None:
    """Record the run's cells, its start and each cell's duration in the `previous` matrix (its estimate)."""
    durations = {cell["id"]: cell["duration_s"] for cell in (previous or {}).get("cells", [])
                 if cell.get("duration_s")}
    results.mkdir(parents=True, exist_ok=True)
    plan = {"started_at": time.time(), "cells": list(cell_ids),
            "estimates": {cell_id: durations[cell_id] for cell_id in cell_ids if cell_id in durations}}
    (results / PLAN_FILE).write_text(json.dumps(plan))


def announce(results: Path, cell_id: str, now: float | None = None) -> str | None:
    """"cell k of n: ID; E elapsed; about L left" for a cell of the planned run in `results`; None when no
    plan names it (a cell run on its own). The estimate is the last run's durations of this cell and the
    ones after it (a cell the last run lacks counts as the median of the others); none without any."""
    try:
        plan = json.loads((results / PLAN_FILE).read_text())
        position = plan["cells"].index(cell_id)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    elapsed = (now if now is not None else time.time()) - plan["started_at"]
    estimates = plan.get("estimates", {})
    line = f"cell {position + 1} of {len(plan['cells'])}: {cell_id}; {_minutes(elapsed)} elapsed"
    if estimates:
        typical = statistics.median(estimates.values())
        left = sum(estimates.get(other, typical) for other in plan["cells"][position:])
        line += f"; about {_minutes(left)} left (from the last run's cell durations)"
    return line


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def finished_tests(progress_file: Path) -> tuple[int, int] | None:
    """(tests finished, tests collected) from a mode's progress file; None before the first test ends."""
    try:
        done, collected = (int(part) for part in progress_file.read_text().split())
    except (OSError, ValueError):
        return None
    return done, collected


def progress_line(label: str, progress_files: dict[str, Path], started: float) -> str:
    """One line of a running cell: each mode's tests done of collected, and the time since it started."""
    parts = []
    for mode, path in progress_files.items():
        counts = finished_tests(path)
        parts.append(f"{mode} {counts[0]}/{counts[1]} tests" if counts else f"{mode} starting")
    return f"{label}: {', '.join(parts)} ({_minutes(time.monotonic() - started)})"


@contextmanager
def reporting(label: str, progress_files: dict[str, Path], every_s: float = POLL_S,
              say: Callable[[str], None] = print) -> Iterator[None]:
    """While the block runs, `say` a progress_line every `every_s` seconds (a daemon thread)."""
    stop, started = threading.Event(), time.monotonic()

    def loop() -> None:
        while not stop.wait(every_s):
            say(progress_line(label, progress_files, started))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def summary_table(cells: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of a run's cells (matrix.json summaries): status, minutes, and per registration
    mode the tests that passed of those that ran."""
    rows = [("cell", "status", "minutes", "with: passed/ran", "without: passed/ran")]
    for cell in cells:
        counts = {mode: [0, 0] for mode in MODES}
        for modes in cell.get("suites", {}).values():
            for mode, total in counts.items():
                tallies = modes.get(mode, {}).get("counts", {})
                total[0] += tallies.get(PASS, 0)
                total[1] += sum(n for verdict, n in tallies.items() if verdict != NA)
        rows.append((cell["id"], cell["status"], f"{cell.get('duration_s', 0) / 60:.1f}",
                     *(f"{passed}/{ran}" for passed, ran in counts.values())))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
