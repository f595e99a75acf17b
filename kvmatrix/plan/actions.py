"""The CI plan: which cells to run, as GitHub Actions step outputs.

`python -m kvmatrix.plan.actions >> "$GITHUB_OUTPUT"` writes two outputs read from pins.toml through
kvmatrix.plan.pins, the same source nox and tox use:

- `matrix`: `{"include": [{"cell": id, "transformers": ..., "torch": ..., "python": ...}, ...]}`, for
  `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`;
- `cells`: the cell ids, comma-separated, for `nox -s publish -- --cells`;
- with `--shards K`: `shard-1` .. `shard-K`, the same matrix cut into K matrices of at most 256 jobs (one
  Actions matrix's limit; pins-full.toml's grid has about 400 cells), and `shard-<k>-size` for each.

`--pins pins-latest.toml` resolves the file's selectors (`"latest"`, ranges) from the package index at run
time, as of the file's index snapshot or, where it names none, now (kvmatrix.plan.latest.resolve_latest); each entry of a cell a selector chose
then also has `requested`, e.g. `{"transformers": "latest"}`. `--resolved-out FILE` writes the resolved
cells (kvmatrix.plan.resolved) for the jobs that run and publish them. Exit status: 0, 2 for a bad pins file,
a selector that matches no release or an empty plan, 3 (`infra`) when the package index cannot be read
(or has no such package).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kvmatrix.plan.latest import resolve_latest
from kvmatrix.plan.pins import Cell, Pins, PinsError
from kvmatrix.plan.releases import IndexUnavailable, PackageNotFound
from kvmatrix.plan.resolved import write_resolved

EXIT_BAD_PINS = 2
EXIT_INFRA = 3


def actions_matrix(pins: Pins, tag: str | None = None) -> dict[str, Any]:
    """The GitHub Actions matrix of `pins` (only the cells tagged `tag` when given), in pins order.

    Pins that still have selectors raise ValueError: resolve them first, so that no cell is dropped."""
    if pins.pending:
        raise ValueError(f"{pins.path}: {len(pins.pending)} cell(s) still have selectors; resolve them first")
    cells = pins.tagged(tag) if tag else pins.cells
    return {"include": [_entry(cell, pins.python_for(cell)) for cell in cells]}


def _entry(cell: Cell, python: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"cell": cell.id, "transformers": cell.transformers, "torch": cell.torch,
                             "python": python}
    if cell.requested:
        entry["requested"] = dict(cell.requested)
    return entry


MAX_JOBS = 256
"""The most jobs one GitHub Actions matrix may generate."""


class TooManyCells(ValueError):
    """The plan has more cells than its shards can hold."""


def shards(matrix: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """`matrix` cut into `count` matrices of at most MAX_JOBS entries each, in order (the last ones may be
    empty); more cells than `count` * MAX_JOBS raise TooManyCells, so no cell is ever left out."""
    entries = matrix["include"]
    if len(entries) > count * MAX_JOBS:
        raise TooManyCells(f"{len(entries)} cells do not fit {count} shard(s) of {MAX_JOBS} jobs: raise "
                           "--shards and add as many shard jobs to the workflow")
    size = max(1, -(-len(entries) // count))
    return [{"include": entries[start:start + size]} for start in range(0, count * size, size)]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def github_outputs(matrix: dict[str, Any], shard_count: int = 0) -> str:
    """The `name=value` lines of the plan's step outputs: `matrix` and `cells`, and with `shard_count`,
    `shard-<k>` (a matrix) and `shard-<k>-size` for k = 1..shard_count (see shards)."""
    ids = ",".join(entry["cell"] for entry in matrix["include"])
    lines = [f"matrix={_json(matrix)}", f"cells={ids}"]
    for number, shard in enumerate(shards(matrix, shard_count) if shard_count else [], start=1):
        lines += [f"shard-{number}={_json(shard)}", f"shard-{number}-size={len(shard['include'])}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the plan's step outputs; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.plan.actions", description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=Path, default=Path("pins.toml"), help="the pins file (pins.toml)")
    parser.add_argument("--tag", help="only the cells carrying this tag, e.g. smoke")
    parser.add_argument("--resolved-out", type=Path, metavar="FILE",
                        help="also write every resolved cell of the pins file here, as JSON")
    parser.add_argument("--shards", type=int, default=0, metavar="K",
                        help=f"also write the plan as K matrices of at most {MAX_JOBS} jobs (shard-1 .. shard-K)")
    args = parser.parse_args(argv)
    try:
        pins = resolve_latest(args.pins)
    except PinsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_PINS
    except (IndexUnavailable, PackageNotFound) as exc:
        print(f"infra: cannot resolve the selectors of {args.pins}: {exc}", file=sys.stderr)
        return EXIT_INFRA
    matrix = actions_matrix(pins, args.tag)
    if not matrix["include"]:
        print(f"error: no cell in {args.pins} is tagged {args.tag!r}", file=sys.stderr)
        return EXIT_BAD_PINS
    try:
        outputs = github_outputs(matrix, args.shards)
    except TooManyCells as exc:
        print(f"error: {args.pins}: {exc}", file=sys.stderr)
        return EXIT_BAD_PINS
    if args.resolved_out:
        write_resolved(pins, args.resolved_out)
    sys.stdout.write(outputs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
