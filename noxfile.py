"""nox sessions: one per pinned (torch, transformers) cell, generated from pins.toml.

- `nox -s matrix`: every cell, each in its own uv environment, then the reports.
- `nox -s "cell(tf4.57.6-torch2.13.0)"`: one cell; `nox -s publish` rewrites reports from cell results.
- `nox -t tests`: the project's tests (torch-free host tests, and the registration tests inside the
  list-based and layer-based smoke cells). `nox -s smoke`: the smoke cells end to end into build/smoke.
The host side never imports torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))

from kvmatrix.cell import requirements, run_cell  # noqa: E402
from kvmatrix.pins import load_pins  # noqa: E402
from kvmatrix.publish import publish as publish_reports  # noqa: E402

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["matrix"]

PINS = load_pins("pins.toml")  # nox runs from this directory; keeps matrix.json free of local paths
RESULTS = ROOT / "build" / "cells"
REPORTS = ROOT / "reports"
SMOKE = PINS.tagged("smoke")


def _option(session: nox.Session, name: str, default: Path) -> Path:
    """`--name VALUE` from the session's posargs (how `matrix`/`smoke` hand directories to cells)."""
    args = list(session.posargs)
    return Path(args[args.index(name) + 1]) if name in args else default


@nox.session(python=PINS.python, tags=["cells"])
@nox.parametrize("pin", [nox.param(cell, id=cell.id) for cell in PINS.cells])
def cell(session: nox.Session, pin) -> None:
    """Run one cell: install its pins, run the suites with and without registration, record verdicts."""
    results = _option(session, "--results", RESULTS)
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    record = run_cell(pin, python, ROOT, results)
    verdicts = {suite: modes["with"]["verdict"] for suite, modes in record["suites"].items()}
    session.log(f"{pin.id}: status {record['status']}; with registration {verdicts}")


@nox.session(python=False)
def publish(session: nox.Session) -> None:
    """Merge cell results into the reports; `--cells a,b` names the cells that were meant to run (one
    without a result becomes an `error` record), otherwise every cell with a result file is taken."""
    results = _option(session, "--results", RESULTS)
    reports = _option(session, "--reports", REPORTS)
    args = list(session.posargs)
    if "--cells" in args:
        cells = PINS.select(args[args.index("--cells") + 1].split(","))
    else:
        cells = tuple(c for c in PINS.cells if (results / f"{c.id}.json").exists())
    readme = ROOT / "README.md" if reports == REPORTS else None
    matrix = publish_reports(PINS, cells, results, reports, readme)
    session.log(f"wrote {reports / 'matrix.json'} with {len(matrix['cells'])} cells")


def _run_cells(session: nox.Session, cells, results: Path, reports: Path) -> None:
    for stale in cells:
        (results / f"{stale.id}.json").unlink(missing_ok=True)
    for pin in cells:
        session.notify(f"cell({pin.id})", posargs=["--results", str(results)])
    ids = ",".join(pin.id for pin in cells)
    session.notify("publish", posargs=["--results", str(results), "--reports", str(reports), "--cells", ids])


@nox.session(python=False)
def matrix(session: nox.Session) -> None:
    """Every pinned cell, then the published reports in reports/."""
    _run_cells(session, PINS.cells, RESULTS, REPORTS)


@nox.session(python=False)
def smoke(session: nox.Session) -> None:
    """The smoke cells (one list-based, one layer-based) end to end, published into build/smoke."""
    _run_cells(session, SMOKE, ROOT / "build" / "smoke" / "cells", ROOT / "build" / "smoke")


@nox.session(python=PINS.python, tags=["tests"])
def host_tests(session: nox.Session) -> None:
    """Torch-free tests of pins, orchestration, verdicts and reports."""
    session.install("pytest>=8", "packaging>=23")
    session.run("pytest", "tests/host", *session.posargs)


@nox.session(python=PINS.python, tags=["tests"])
@nox.parametrize("pin", [nox.param(c, id=c.id) for c in SMOKE])
def compat_tests(session: nox.Session, pin) -> None:
    """Registration tests inside a real cell environment (the list-based and layer-based smoke cells)."""
    find_links = [arg for link in session.env.get("PIP_FIND_LINKS", "").split() for arg in ("--find-links", link)]
    session.install(*find_links, *requirements(pin))
    session.run("pytest", "tests/compat", "-p", "no:cacheprovider", *session.posargs,
                env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
