"""The `unchanged` and `later-day` phases: the whole default matrix run again with nothing changed.

`unchanged`: `python -m nox -s matrix` from the checkout, its results into an empty scratch folder and its
reports into a scratch copy of the committed `reports/`, so the previous results it can reuse are those of the
published matrix and nothing committed is touched.
`later-day`: the same from a fresh `git clone` of the checkout's HEAD whose every process (nox, uv, the
interpreters) sees a clock some days after now (libfaketime, Debian's `faketime`): what a newcomer running the
README's command on a later day meets, the index having moved on meanwhile (docs/incremental.md).
Each is timed from outside as one process; what each cell did is read from the decision lines
`kvmatrix.run.reuse` logs (`<id>: reused ...` / `<id>: run (why)`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.envbench import BenchError

DECISION = re.compile(r"^nox > (?P<cell>tf\S+): (?P<what>reused|run)\b(?P<rest>.*)$", re.MULTILINE)
NOTHING_NEW = "nothing new to publish"


def decisions_in(log: str) -> dict[str, list[str]]:
    """The cells a matrix run's log says it reused and those it ran, each run one with its reason."""
    found: dict[str, list[str]] = {"reused": [], "run": []}
    for match in DECISION.finditer(log):
        found[match["what"]].append(match["cell"] if match["what"] == "reused"
                                    else f"{match['cell']}{match['rest']}")
    return found


def _timed_matrix(root: Path, reports: Path, results: Path, log: Path,
                  env: dict[str, str] | None = None) -> dict[str, Any]:
    """`nox -s matrix` in `root` with `results` and `reports`, timed from outside: its command, wall time,
    decisions and whether the publish found anything new. Raises BenchError when nox fails."""
    results.mkdir(parents=True)
    command = [sys.executable, "-m", "nox", "-s", "matrix", "--", "--results", str(results),
               "--reports", str(reports)]
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(command, check=False, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                              env=env).returncode
    wall = time.monotonic() - start
    if code != 0:
        raise BenchError(f"nox -s matrix exited {code}; see {log}")
    text = log.read_text()
    return {"command": " ".join(command[1:]), "wall_s": round(wall, 2), **decisions_in(text),
            "published_nothing_new": NOTHING_NEW in text}


def unchanged_rerun(root: Path, scratch: Path) -> dict[str, Any]:
    """Run the default matrix in `root` against a copy of its published reports; its wall time, the cells it
    reused and ran, and whether the publish found anything new. Raises BenchError when nox fails."""
    reports = scratch / "reports"
    shutil.copytree(root / "reports", reports)
    return _timed_matrix(root, reports, scratch / "results", scratch / "matrix.log")


FAKETIME_LIBRARIES = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                      "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")
"""Where Debian's `faketime` package puts the library that shifts a process's clock."""
CLOCK = "from kvmatrix.plan.pins import utc_now; print(utc_now())"


def later_day_rerun(root: Path, scratch: Path, days: int = 1) -> dict[str, Any]:
    """Run the default matrix from a fresh clone of `root`'s HEAD with every process's clock `days` ahead;
    `unchanged_rerun`'s measurements, the clock the processes saw and the published matrix's dates. Raises
    BenchError without libfaketime or when the clone or nox fails."""
    library = next((path for path in FAKETIME_LIBRARIES if Path(path).exists()), None)
    if library is None:
        raise BenchError("no libfaketime: apt-get install faketime")
    clone = scratch / "clone"
    cloned = subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], capture_output=True, text=True)
    if cloned.returncode != 0:
        raise BenchError(f"git clone failed: {cloned.stderr.strip()}")
    env = {**os.environ, "LD_PRELOAD": library, "FAKETIME": f"+{days}d"}
    clock = subprocess.run([sys.executable, "-c", CLOCK], capture_output=True, text=True, env=env, cwd=clone).stdout.strip()
    published = json.loads((clone / "reports" / "matrix.json").read_text())
    run = _timed_matrix(clone, clone / "reports", scratch / "results", scratch / "matrix.log", env)
    return {**run, "days": days, "clock": clock, "generated_at": published.get("generated_at"),
            "index_snapshot": published.get("index_snapshot")}
