"""`python -m kvmatrix.run.inputs_cli`: a cell's inputs and the reuse of its previous result, one cell of
the pins file (KVCC_PINS) at a time, for the workflow's cell jobs (docs/incremental.md). `--resolved FILE` takes
the cell from resolved pins (`python -m kvmatrix.plan.actions --resolved-out`) instead: the full grid's cell jobs
(run-cells.yml), whose results are reused from `--reports reports/full`.

- `key CELL_ID`: print the cell's inputs key (`--json`: the parts too); status 1 and `unknown` when the
  inputs cannot be found.
- `reuse CELL_ID --results DIR [--reports DIR]`: reuse the cell's previous result (`DIR/<id>.json`, e.g.
  restored from a cache, else the published one) when its inputs are unchanged, as `nox -s matrix` does;
  status 0 when reused, 1 when the cell must run (the line says why).
- `cacheable CELL_ID --results DIR`: status 0 when `DIR/<id>.json` is a fresh result that may be reused for
  the cell's current inputs (worth saving under its key), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import Cell, PinsError, fixed, load_pins
from kvmatrix.plan.resolved import load_resolved
from kvmatrix.record.cell_results import check_cell_result, read_cell_result
from kvmatrix.record.matrix import ReportError
from kvmatrix.run.cell import inputs_of
from kvmatrix.run.env.interpreters import find_interpreter
from kvmatrix.run.reuse import reusable, reuse_or_run
from kvmatrix.settings import setting


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand (see the module docstring); status 2 for an unknown cell or a bad pins file."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.run.inputs_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--resolved", type=Path, metavar="FILE",
                        help="take the cell from resolved pins instead of the pins file (KVCC_PINS)")
    commands = parser.add_subparsers(dest="command", required=True)
    key = commands.add_parser("key", help="print the cell's inputs key")
    key.add_argument("--json", action="store_true", help="print the key and every part as JSON")
    reuse = commands.add_parser("reuse", help="reuse the cell's previous result when its inputs are unchanged")
    reuse.add_argument("--reports", type=Path, default=REPO_ROOT / "reports", help="the published matrix's folder")
    cacheable = commands.add_parser("cacheable", help="whether the cell's fresh result may be cached")
    for command in (key, reuse, cacheable):
        command.add_argument("cell", help="a cell id of the pins file, e.g. tf4.57.6-torch2.13.0")
        command.add_argument("--python", help="the interpreter the cell runs on (default: its pinned minor's)")
    for command in (reuse, cacheable):
        command.add_argument("--results", type=Path, required=True, help="the folder of the cell's result")
    args = parser.parse_args(argv)
    try:
        pins = load_resolved(args.resolved) if args.resolved else fixed(load_pins(setting("KVCC_PINS")))
        (cell,) = pins.select([args.cell])
    except PinsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    python = args.python or find_interpreter(pins.python_for(cell))
    if args.command == "reuse":
        (decision,) = reuse_or_run((cell,), lambda pin: inputs_of(pin, python), args.results, args.reports)
        print(decision.line)
        return 1 if decision.run else 0
    inputs = inputs_of(cell, python)
    if inputs is None:
        print("unknown" if args.command == "key" else f"{cell.id}: its inputs cannot be told")
        return 1
    if args.command == "key":
        print(json.dumps(inputs, indent=1) if args.json else inputs["key"])
        return 0
    return 0 if _fresh_and_reusable(cell, args.results / f"{cell.id}.json", inputs["key"]) else 1


def _fresh_and_reusable(cell: Cell, path: Path, key: str) -> bool:
    """Whether `path` holds a valid fresh result of `cell` (not itself reused) that is reusable for `key`."""
    try:
        record = check_cell_result(read_cell_result(path), cell, path)
    except ReportError as exc:
        print(exc, file=sys.stderr)
        return False
    return record.get("reused_from") is None and reusable(record, key)


if __name__ == "__main__":
    sys.exit(main())
