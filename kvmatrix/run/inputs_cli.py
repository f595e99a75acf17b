"""`python -m kvmatrix.run.inputs_cli CELL_ID`: print the inputs key of one cell of the pins file
(kvmatrix.run.inputs), e.g. as the workflow's cache key for the cell's record."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from kvmatrix.plan.pins import PinsError, load_pins
from kvmatrix.run.cell import requirements
from kvmatrix.run.inputs import cell_inputs
from kvmatrix.run.interpreters import find_interpreter
from kvmatrix.settings import setting


def main(argv: Sequence[str] | None = None) -> int:
    """Print the inputs key of one cell of the pins file (KVCC_PINS), run with its own interpreter or
    `--python`; `--json` prints the whole inputs. Status 1 (and `unknown`) when the inputs cannot be found."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.run.inputs_cli", description=main.__doc__)
    parser.add_argument("cell", help="a cell id of the pins file, e.g. tf4.57.6-torch2.13.0")
    parser.add_argument("--python", help="the interpreter the cell runs on (default: its pinned minor's)")
    parser.add_argument("--json", action="store_true", help="print the key and every part as JSON")
    args = parser.parse_args(argv)
    try:
        pins = load_pins(setting("KVCC_PINS"))
        (cell,) = pins.select([args.cell])
    except PinsError as exc:
        parser.error(str(exc))
    inputs = cell_inputs(requirements(cell), args.python or find_interpreter(pins.python_for(cell)))
    if inputs is None:
        print("unknown")
        print(f"cannot tell the inputs of {cell.id}: uv could not resolve its pins or its interpreter did "
              "not start", file=sys.stderr)
        return 1
    print(json.dumps(inputs, indent=1) if args.json else inputs["key"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
