"""The `unchanged` phase: the whole default matrix run again with nothing changed (issue 15 item 3).

`python -m nox -s matrix` from the checkout, its results into an empty scratch folder and its reports into a
scratch copy of the committed `reports/`, so the previous results it can reuse are those of the published
matrix and nothing committed is touched. Timed from outside as one process; what each cell did is read from
the decision lines `kvmatrix.run.reuse` logs (`<id>: reused ...` / `<id>: run (why)`).
"""

from __future__ import annotations

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


def unchanged_rerun(root: Path, scratch: Path) -> dict[str, Any]:
    """Run the default matrix in `root` against a copy of its published reports; its wall time, the cells it
    reused and ran, and whether the publish found anything new. Raises BenchError when nox fails."""
    reports, results, log = scratch / "reports", scratch / "results", scratch / "matrix.log"
    shutil.copytree(root / "reports", reports)
    results.mkdir(parents=True)
    command = [sys.executable, "-m", "nox", "-s", "matrix", "--", "--results", str(results),
               "--reports", str(reports)]
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(command, check=False, cwd=root, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - start
    if code != 0:
        raise BenchError(f"nox -s matrix exited {code}; see {log}")
    text = log.read_text()
    return {"command": " ".join(command[1:]), "wall_s": round(wall, 2), **decisions_in(text),
            "published_nothing_new": NOTHING_NEW in text}
