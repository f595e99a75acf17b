"""Re-run one suite test alone in one (transformers, torch) pair and print pytest's full traceback:
`python -m kvmatrix.run.one_test --pair tf4.57.6-torch2.10.0 --mode with 'suites/test_x.py::test_y[...]'`.

The pair's environment is made by uv (build/latest/envs/<cell id>, reused like `cell_cli --pair`), on the
Python that pins.toml gives the pair (its own `python` where it has one, else the file's), with the cell's
requirements; the test runs in the foreground with the same offline settings and registration mode as in
the matrix, its output going straight to the terminal. The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import Cell, PinsError, fixed, load_pins
from kvmatrix.record.verdicts import MODES, RAN
from kvmatrix.run.cell import install_cell
from kvmatrix.run.env.envs import VenvError, ensure_venv
from kvmatrix.run.process.pytest_run import OFFLINE_ENV
from kvmatrix.settings import report_bad_settings

ENVS = REPO_ROOT / "build" / "latest" / "envs"


def command(cell_id: str, mode: str, nodeid: str) -> str:
    """The one-line shell command that re-runs test `nodeid` of cell `cell_id` in `mode` with this module."""
    quoted = "'" + nodeid.replace("'", "'\\''") + "'"
    return f"python -m kvmatrix.run.one_test --pair {cell_id} --mode {mode} {quoted}"


def pytest_command(python: str, mode: str, nodeid: str) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of the foreground pytest run of `nodeid` in `mode`: the recorder's attribution
    plugins as in a cell, no xdist, the long traceback."""
    argv = [python, "-m", "pytest", nodeid, "-p", "kvmatrix.run.process.recorder", "-p", "no:cacheprovider", "-p", "no:logging",
            "-p", "no:xdist", "--tb=long", "-rA"]
    return argv, {**os.environ, **OFFLINE_ENV, "KVCC_REGISTRATION": mode, "PYTHONPATH": str(REPO_ROOT)}


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the pair's environment and run the test; returns pytest's exit status (2: bad
    arguments; 3: the environment could not be made or installed)."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.run.one_test", description=__doc__.splitlines()[0])
    parser.add_argument("nodeid", help="the test, e.g. 'suites/test_export.py::test_x[DynamicCache-strict-static]'")
    parser.add_argument("--pair", required=True, help="the cell id naming the pair, e.g. tf4.57.6-torch2.13.0")
    parser.add_argument("--mode", choices=MODES, default="with", help="registration mode (default: with)")
    parser.add_argument("--pins", type=Path, default=REPO_ROOT / "pins.toml", help="where the pair's Python is read")
    parser.add_argument("--envs", type=Path, default=ENVS, help="where the pairs' uv environments live")
    args = parser.parse_args(argv)
    if report_bad_settings():
        return 2
    if not args.nodeid.startswith("suites/test_") or "::" not in args.nodeid:
        print(f"error: {args.nodeid!r} is not a suite test id like suites/test_export.py::test_x[...]",
              file=sys.stderr)
        return 2
    try:
        pins = fixed(load_pins(args.pins))
        cell = pins.pinned(Cell.from_id(args.pair))
        python = ensure_venv(args.envs / cell.id, pins.python_for(cell))
    except PinsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VenvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    outcome = install_cell(cell, python)
    if outcome.status != RAN:
        print(f"error: cannot install {cell.id}: {outcome.status}: {outcome.reason}", file=sys.stderr)
        return 3
    pytest_argv, env = pytest_command(python, args.mode, args.nodeid)
    return subprocess.run(pytest_argv, cwd=REPO_ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
