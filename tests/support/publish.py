"""Cell result files and checkouts for the tests of publish: two pinned cells, a result of one verdict per
suite, and a checkout whose suites/ gives the columns."""

from __future__ import annotations

import json
from pathlib import Path

from kvmatrix.plan.pins import Cell, Pins
from tests.support.records import build_cell, mode_runs, record

LIST = Cell(transformers="4.53.3", torch="2.13.0")
LAYER = Cell(transformers="4.57.6", torch="2.13.0")
PINS = Pins(python="3.11", cells=(LIST, LAYER), path="pins.toml")
SUITES = ["compile", "export", "roundtrip"]


def cell_result(cell: Cell, verdict: str, suites: list[str] = SUITES) -> dict:
    """The result file of `cell` whose one test per suite had `verdict` in both registration modes."""
    error = None if verdict == "pass" else "AssertionError: boom"
    tests = [record(s, f"test_{s}", verdict, error=error, duration_s=0.1) for s in suites]
    return build_cell(cell.transformers, cell.torch, mode_runs(tests), suites=suites, **cell.to_json(),
                      resolved={"torch": cell.torch, "transformers": cell.transformers}, freeze=[],
                      metrics={"compile": {}}, install_duration_s=0.5, duration_s=2.0)


def write_result(results: Path, record: dict) -> None:
    """`record` as its cell's result file in the folder `results`."""
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{record['id']}.json").write_text(json.dumps(record))


def checkout(root: Path, suites: list[str]) -> Path:
    """A checkout at `root` whose suites/ holds one test file per suite (and files that are not suites)."""
    (root / "suites").mkdir(parents=True)
    for name in ["__init__", "conftest", "recorder", *(f"test_{suite}" for suite in suites)]:
        (root / "suites" / f"{name}.py").write_text("")
    return root
