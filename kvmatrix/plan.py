"""The CI plan: which cells to run, as GitHub Actions step outputs.

`python -m kvmatrix.plan >> "$GITHUB_OUTPUT"` writes two outputs read from pins.toml through
kvmatrix.pins, the same source nox and tox use:

- `matrix`: `{"include": [{"cell": id, "transformers": ..., "torch": ..., "python": ...}, ...]}`, for
  `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`;
- `cells`: the cell ids, comma-separated, for `nox -s publish -- --cells`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .pins import Pins, PinsError, load_pins


def plan(pins: Pins, tag: str | None = None) -> dict[str, Any]:
    """The GitHub Actions matrix of `pins` (only the cells tagged `tag` when given), in pins order."""
    cells = pins.tagged(tag) if tag else pins.cells
    return {
        "include": [
            {"cell": cell.id, "transformers": cell.transformers, "torch": cell.torch, "python": pins.python}
            for cell in cells
        ]
    }


def github_outputs(matrix: dict[str, Any]) -> str:
    """The `name=value` lines of the plan's step outputs (`matrix` and `cells`)."""
    ids = ",".join(entry["cell"] for entry in matrix["include"])
    return f"matrix={json.dumps(matrix, separators=(',', ':'))}\ncells={ids}\n"


def main(argv: list[str] | None = None) -> int:
    """Print the plan's step outputs; returns the exit status (2 for a bad pins file or an empty plan)."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=Path, default=Path("pins.toml"), help="the pins file (pins.toml)")
    parser.add_argument("--tag", help="only the cells carrying this tag, e.g. smoke")
    args = parser.parse_args(argv)
    try:
        matrix = plan(load_pins(args.pins), args.tag)
    except PinsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not matrix["include"]:
        print(f"error: no cell in {args.pins} is tagged {args.tag!r}", file=sys.stderr)
        return 2
    sys.stdout.write(github_outputs(matrix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
