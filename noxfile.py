"""nox sessions: one per pinned (torch, transformers) cell, generated from pins.toml.

- `nox -s matrix`: every cell, each in its own uv environment, then the reports.
- `nox -s refresh`: move pins.toml's index snapshot to now, run the cells whose resolved set moved, publish.
- `nox -s "cell(tf4.57.6-torch2.13.0)"`: one cell; `nox -s publish` rewrites reports from cell results.
- `nox -t tests`: the project's tests (torch-free host tests, and the registration tests inside the
  list-based and layer-based smoke cells). `nox -s smoke`: the smoke cells end to end into build/smoke.
The host side never imports torch.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))

from kvmatrix.files import write_text_atomic  # noqa: E402
from kvmatrix.plan.pins import Pins, PinsError, as_of, fixed, load_pins, utc_now  # noqa: E402
from kvmatrix.plan.refresh import commit_message, move_snapshot, moves_by_cell, report_lines  # noqa: E402
from kvmatrix.plan.resolved import load_resolved  # noqa: E402
from kvmatrix.publish.publish_run import IncompleteRun, OverlappingFolders, result_file  # noqa: E402
from kvmatrix.publish.publish_run import publish as publish_reports  # noqa: E402
from kvmatrix.publish.report_set import ReportsBusy, ReportsNotWritten  # noqa: E402
from kvmatrix.record.matrix import ReportError  # noqa: E402
from kvmatrix.render.markdown import render_changes  # noqa: E402
from kvmatrix.render.text import terminal_text  # noqa: E402
from kvmatrix.render.verified import BUNDLED as VERIFIED  # noqa: E402
from kvmatrix.render.verified import main as write_verified  # noqa: E402
from kvmatrix.run.cell import inputs_of, requirements, run_cell  # noqa: E402
from kvmatrix.run.env.interpreters import find_interpreter, interpreter_missing  # noqa: E402
from kvmatrix.run.env.torch_index import find_links_args, torch_backend_args  # noqa: E402
from kvmatrix.run.process.progress import announce, summary_table, write_plan  # noqa: E402
from kvmatrix.run.process.pytest_run import IN_CELL_OPTIONS  # noqa: E402
from kvmatrix.run.reuse import InputsOf, all_inputs, published_records, reuse_or_run  # noqa: E402
from kvmatrix.settings import setting, setting_problems  # noqa: E402

nox.needs_version = ">=2025.2.9"  # nox.project.dependency_groups
nox.options.default_venv_backend = "uv"
# Plain `nox` lints and runs the fast unit tests, as nox users expect; it never runs cells or rewrites the
# committed reports (that is `nox -s matrix`).
nox.options.sessions = ["lint", "unit"]
# A cell session whose Python nox cannot find fails instead of being skipped with exit 0 (nox's default
# outside CI): a skipped cell leaves no result and reads as a run that went well.
nox.options.error_on_missing_interpreters = True

# A bad KVCC_* value (KVCC_WORKERS=0 would lose crash isolation, garbage a traceback deep in a cell) stops
# every session here, one line each.
BAD_SETTINGS = setting_problems()
if BAD_SETTINGS:
    raise SystemExit("\n".join(f"error: {problem}" for problem in BAD_SETTINGS))
# nox runs from this directory, so the relative name keeps matrix.json free of local paths. KVCC_PINS names
# another pins file (e.g. a fault-injection run with an unresolvable pin); the default matrix is pins.toml.
# Every cell installs as of the file's index snapshot; a file naming none is taken as of now, once per nox run
# (each record keeps the time; the matrix names a snapshot only where the file does: a publish may be another run).
try:
    WRITTEN_PINS = load_pins(setting("KVCC_PINS"))
except PinsError as error:  # one clear line instead of a traceback through nox's loader
    raise SystemExit(f"error: {error}") from None
PINS = fixed(WRITTEN_PINS)
"""The cells as this nox run installs them: as of the file's snapshot, or of the time the run started."""
RESULTS = ROOT / "build" / "cells"
REPORTS = ROOT / "reports"
REFRESH_MESSAGE = ROOT / "build" / "refresh.txt"
SMOKE = PINS.tagged("smoke")
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")  # its dependency groups: what sessions install


def as_written(pins: Pins) -> Pins:
    """`pins` as of the index snapshot its file names now: `refresh` moves it within a nox run whose sessions
    were made from the file's earlier text (a file naming none keeps the time this run took)."""
    written = load_pins(pins.path).snapshot
    return pins if written is None or written == pins.snapshot else as_of(pins, written)


def _value(session: nox.Session, name: str) -> str | None:
    """The VALUE of `--name VALUE` in the session's posargs, None without `--name`; a `--name` with no value
    after it (the last argument, or another flag) ends the session with one line."""
    args = list(session.posargs)
    if name not in args:
        return None
    at = args.index(name) + 1
    if at == len(args) or args[at].startswith("--"):
        session.error(f"{name} needs a value: {name} VALUE")
    return args[at]


def _option(session: nox.Session, name: str, default: Path) -> Path:
    """`--name VALUE` from the session's posargs as a path (how `matrix`/`smoke` hand directories to cells)."""
    value = _value(session, name)
    return default if value is None else Path(value)


@nox.session(tags=["cells"])
@nox.parametrize("python,pin", [nox.param(find_interpreter(PINS.python_for(cell)), cell, id=cell.id)
                                for cell in PINS.cells])
def cell(session: nox.Session, pin) -> None:
    """Run one cell: install its pins, run the suites with and without registration, record verdicts."""
    results = _option(session, "--results", RESULTS)
    where = announce(results, pin.id)
    if where:
        session.log(terminal_text(where))
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    record = run_cell(as_written(PINS).select([pin.id])[0], python, results)
    verdicts = {suite: modes["with"]["verdict"] for suite, modes in record["suites"].items()}
    session.log(terminal_text(f"{pin.id}: status {record['status']}; with registration {verdicts}"))


@nox.session(python=False)
def publish(session: nox.Session) -> None:
    """Merge cell results into reports/ (matrix.json, matrix.md, page, badges, history, README table).

    `--cells a,b` names the cells that were meant to run (one
    without a result becomes an `error` record), otherwise every cell with a result file is taken.
    `--require-complete` (CI) refuses, writing nothing, when a named cell left no result. `--resolved FILE`
    takes the cells from resolved pins (`python -m kvmatrix.plan.actions --resolved-out`) instead of pins.toml, and
    publishes into reports/latest unless `--reports` says otherwise. `--artifact-prefix P` (CI): `--results`
    holds one folder per cell artifact, `P<cell id>`, and only `<cell id>.json` is read from each."""
    resolved, named = _value(session, "--resolved"), _value(session, "--cells")
    prefix = _value(session, "--artifact-prefix")
    results = _option(session, "--results", RESULTS)
    reports = _option(session, "--reports", REPORTS / "latest" if resolved is not None else REPORTS)
    try:
        pins = load_resolved(resolved) if resolved is not None else as_written(WRITTEN_PINS)
        if named is not None:
            cells = pins.select(named.split(","))
        else:
            cells = tuple(c for c in pins.cells if result_file(results, c.id, prefix).exists())
    except PinsError as exc:
        session.error(terminal_text(exc))
    # Resolved: `--reports reports`, a relative path, is the committed folder too.
    committed = reports.resolve() == REPORTS.resolve()
    readme = ROOT / "README.md" if committed else None
    published = reports / "matrix.json"
    before = published.read_bytes() if published.exists() else None
    try:
        matrix = publish_reports(pins, cells, results, reports, readme, "--require-complete" in session.posargs,
                                 artifact_prefix=prefix)
    except PUBLISH_ERRORS as exc:
        _publish_failed(session, exc)
    if committed:  # the default matrix: refresh the verified pins bundled for `kvcc check`
        write_verified([str(reports / "uses.json"), str(VERIFIED)])
    if published.read_bytes() == before:
        session.log(f"nothing new to publish: the results are those of {published} (left as it is)")
        return
    session.log(f"wrote {reports / 'matrix.json'} with {len(matrix['cells'])} cells")
    ran = {cell.id for cell in cells}
    # Cell records hold third-party text (errors, test names): no control sequence reaches the terminal.
    print(terminal_text(summary_table([cell for cell in matrix["cells"] if cell["id"] in ran])))
    print(terminal_text(f"Changes since last run\n{render_changes(matrix['changes'])}"))


PUBLISH_ERRORS = (IncompleteRun, OverlappingFolders, ReportError, ReportsBusy, OSError)
"""What a publish that writes nothing raises: a refused run, results inside the reports (or the reverse), a
corrupt matrix or cell result, another publish holding the folder too long, a folder it cannot write."""


def _publish_failed(session: nox.Session, exc: Exception) -> None:
    """End the session with one line saying why the reports were not published."""
    plain_os_error = isinstance(exc, OSError) and not isinstance(exc, ReportsNotWritten)
    session.error(terminal_text(f"cannot write the reports: {exc}" if plain_os_error else exc))


def _run_cells(session: nox.Session, cells, results: Path, reports: Path, inputs_of: InputsOf | None = None) -> None:
    """Run the cells whose inputs changed (every one with `--fresh` among the posargs), reuse the previous
    result of the others (kvmatrix.run.reuse), then publish them all into `reports`. `inputs_of` gives a cell's
    inputs where the caller has found them already (default: found now). A cell whose Python this machine lacks
    stops the run before anything runs or is published: its session could not start, and the publish would
    replace the cell's verdicts with `error`."""
    _refuse_missing_pythons(session, cells)
    inputs_of = inputs_of or _inputs
    decisions = reuse_or_run(cells, inputs_of, results, reports, "--fresh" in session.posargs)
    for decision in decisions:
        session.log(terminal_text(decision.line))
    running = [decision.cell for decision in decisions if decision.run]
    previous = REPORTS / "matrix.json"
    write_plan(results, [pin.id for pin in running], json.loads(previous.read_text()) if previous.exists() else None)
    for pin in running:
        session.notify(f"cell({pin.id})", posargs=["--results", str(results)])
    ids = ",".join(pin.id for pin in cells)
    session.notify("publish", posargs=["--results", str(results), "--reports", str(reports), "--cells", ids])


def _refuse_missing_pythons(session: nox.Session, cells) -> None:
    """End the session with one line per CPython minor that this machine lacks, naming its cells."""
    wanted: dict[str, list[str]] = {}
    for pin in cells:
        wanted.setdefault(PINS.python_for(pin), []).append(pin.id)
    missing = [minor for minor in wanted if interpreter_missing(minor)]
    if missing:
        session.error("; ".join(f"no Python {minor} on this machine for cell(s) {', '.join(wanted[minor])}: "
                                f"install it (uv python install {minor})" for minor in missing)
                      + "; nothing was run or published")


def _inputs(pin) -> dict | None:
    """The inputs of a cell (kvmatrix.run.cell.inputs_of) on its CPython minor's interpreter on this machine."""
    return inputs_of(pin, find_interpreter(PINS.python_for(pin)))


@nox.session(python=False, default=False)
def refresh(session: nox.Session) -> None:
    """Move the pins file's index snapshot to now (`-- --to TIME` for another), say per cell which packages
    move, then run only the cells whose resolved set changed and publish into reports/ (kvmatrix.plan.refresh).

    The new date stays in the pins file for the commit; build/refresh.txt (`--message FILE`) holds the commit
    message, which names the packages that moved. `-- --plan` stops after saying (the scheduled workflow's plan
    job: its cell jobs run, or reuse, each cell)."""
    _refuse_missing_pythons(session, PINS.cells)
    when = _value(session, "--to") or utc_now()
    try:
        before = move_snapshot(Path(PINS.path), when)
    except PinsError as exc:
        session.error(terminal_text(exc))
    pins = as_of(PINS, when)
    found = dict(zip(pins.cells, all_inputs(pins.cells, _inputs), strict=True))
    moves = moves_by_cell([cell.id for cell in pins.cells], published_records(REPORTS), list(found.values()))
    session.log(f"{PINS.path}: index snapshot moved from {before} to {when}")
    for line in report_lines(moves):
        session.log(terminal_text(line))
    write_text_atomic(_option(session, "--message", REFRESH_MESSAGE), commit_message(before, when, moves))
    if "--plan" not in session.posargs:
        _run_cells(session, pins.cells, RESULTS, REPORTS, found.get)  # the inputs just found, not again


@nox.session(python=False)
def matrix(session: nox.Session) -> None:
    """The main job: run every pinned cell whose inputs changed, then publish the reports in reports/.

    `-- --results DIR --reports DIR` for a run that must not touch the committed reports; `-- --fresh` runs
    every cell, whatever its previous result (docs/incremental.md)."""
    _run_cells(session, PINS.cells, _option(session, "--results", RESULTS), _option(session, "--reports", REPORTS))


@nox.session(python=False)
def smoke(session: nox.Session) -> None:
    """The smoke cells (one list-based, one layer-based) end to end, published into build/smoke; a cell whose
    inputs are unchanged is reused (`-- --fresh` runs both). The results go to build/smoke-cells, never to
    build/smoke/cells, which holds the published detail files."""
    _run_cells(session, SMOKE, ROOT / "build" / "smoke-cells", ROOT / "build" / "smoke")


@nox.session(python=PINS.python, tags=["tests"])
def host_tests(session: nox.Session) -> None:
    """All torch-free tests: unit and integration (cells of fakes, workflows, the page in headless Chromium).

    The browser is found or provisioned first (see `chromium`)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "host-tests"))
    browser = chromium(session)
    session.run("pytest", *UNIT_TESTS, "tests/integration", "tests/browser", *session.posargs,
                env={"KVCC_CHROMIUM": browser})


UNIT_TESTS = ["tests/kvmatrix", "tests/benchmarks", "tests/compat_host"]
"""The folders of the host's unit tests; tests/integration, tests/browser and tests/parity hold the
integration tests (tests/conftest.py)."""


@nox.session(python=PINS.python)
def unit(session: nox.Session) -> None:
    """Fast unit tests of the host side (seconds; the default while coding); no browser, no real tools."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "host"))
    session.run("pytest", *UNIT_TESTS, "-m", "not integration", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PINS.python, tags=["tests"])
def lint(session: nox.Session) -> None:
    """ruff over the whole repository, with the rules in pyproject.toml."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".", *session.posargs)


def chromium(session: nox.Session) -> str:
    """The Chromium or Chrome the browser tests drive: KVCC_CHROMIUM, else one on PATH, else Debian's
    package where apt-get can install it (root), else Playwright's own download; one clear error otherwise."""
    named = setting("KVCC_CHROMIUM")
    if named:
        if not Path(named).exists():
            session.error(f"KVCC_CHROMIUM={named} does not exist")
        return named
    found = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        session.run("apt-get", "update", "-qq", external=True, success_codes=[0, 100])
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True,
                    env={"DEBIAN_FRONTEND": "noninteractive"}, success_codes=[0, 100])
        found = shutil.which("chromium")
        if found:
            return found
    session.run("python", "-m", "playwright", "install", "chromium", success_codes=[0, 1])
    downloaded = session.run("python", "-c", PLAYWRIGHT_CHROMIUM, silent=True, success_codes=[0, 1])
    if downloaded and Path(downloaded.strip()).exists():
        return downloaded.strip()
    session.error("no Chromium for the browser tests: set KVCC_CHROMIUM to a Chromium/Chrome binary, or "
                  "install one (Debian: apt-get install chromium; elsewhere: python -m playwright install chromium)")


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PLAYWRIGHT_CHROMIUM = (
    "from playwright.sync_api import sync_playwright\n"
    "with sync_playwright() as p: print(p.chromium.executable_path)"
)


@nox.session(python=PINS.python, tags=["tests"])
@nox.parametrize("pin", [nox.param(c, id=c.id) for c in SMOKE])
def compat_tests(session: nox.Session, pin) -> None:
    """Registration, attribution and interop tests inside the list-based and the layer-based smoke cell."""
    session.install(*torch_backend_args(), *find_links_args(os.environ), *requirements(pin),
                    *nox.project.dependency_groups(PYPROJECT, "interop"))
    session.run("pytest", "tests/compat", *IN_CELL_OPTIONS, *session.posargs,
                env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})


CHECKED_PAIRS = ("tf4.55.4-torch2.8.0",)
"""Pairs where `kvcc check`'s own tests run besides the smoke cells: there a StaticCache decode step exports
non-strict only on the vmap-free mask with compat.register(), the fix kvcc must name."""


@nox.session(python=PINS.python, tags=["tests"])
@nox.parametrize("pin", [nox.param(c, id=c.id) for c in PINS.cells if c.id in CHECKED_PAIRS])
def kvcc_check_tests(session: nox.Session, pin) -> None:
    """`kvcc check` run for real in a pair whose fix needs both compat.register() and the vmap-free mask."""
    session.install(*torch_backend_args(), *find_links_args(os.environ), *requirements(pin))
    session.run("pytest", "tests/compat/test_check.py", *IN_CELL_OPTIONS, *session.posargs,
                env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})


@nox.session(python=False, default=False)
def bisect(session: nox.Session) -> None:
    """Find the first release where one test's verdict changes, into reports/bisect.

    E.g. `nox -s bisect -- --test NODEID --mode without --fixed torch==2.6.0 --range
    "transformers>=4.46,<4.54"`; environments in build/bisect, report (JSON + Markdown) in reports/bisect."""
    from kvmatrix.bisect.run import main as bisect_main

    try:
        status = bisect_main(["--python", PINS.python, *session.posargs])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    if status:
        session.error(f"bisect ended with status {status} (2: bad arguments; 1: nothing tested or infra)")


@nox.session(python=False, default=False)
def latest(session: nox.Session) -> None:
    """Run the newest releases (pins-latest.toml, resolved from the index now) into reports/latest.

    `--pins FILE` reads another file, `--plan` only prints the resolved cells."""
    from kvmatrix.plan.latest import describe, resolve_latest
    from kvmatrix.plan.releases import IndexUnavailable, PackageNotFound
    from kvmatrix.publish.publish_run import publish
    from kvmatrix.run.cell import run_cells

    pins_path = _option(session, "--pins", Path("pins-latest.toml"))
    try:
        pins = resolve_latest(pins_path)
    except PinsError as exc:
        session.error(terminal_text(exc))
    except (IndexUnavailable, PackageNotFound) as exc:  # as python -m kvmatrix.plan.actions reports them
        session.error(terminal_text(f"infra: {exc}"))
    for line in describe(pins):
        session.log(terminal_text(line))
    if "--plan" in session.posargs:
        return
    reports = _option(session, "--reports", REPORTS / "latest")
    try:
        results = run_cells(pins, _option(session, "--work", ROOT / "build" / "latest"))
        matrix = publish(pins, pins.cells, results, reports)
    except PUBLISH_ERRORS as exc:
        _publish_failed(session, exc)
    session.log(f"wrote {reports / 'matrix.json'} with {len(matrix['cells'])} cells")


@nox.session(python=PINS.python, default=False)
def parity(session: nox.Session) -> None:
    """Slow: check that nox and tox (tox.ini, tox-uv) give the same result for the last smoke cell.

    Runs tests/parity; not part of `nox -t tests`."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "parity"))
    session.run("pytest", "tests/parity", *session.posargs)


@nox.session(python=False, default=False)
def bench(session: nox.Session) -> None:
    """Slow (it runs whole cells and the default matrix; run it alone on the machine): benchmark the harness.

    Measures it against python -m venv + pip, cell overhead, concurrency, growth, parallelism inside a cell and
    the default matrix re-run unchanged, into benchmarks/RESULTS.md and RESULTS.json, which also say how long
    the run took. Arguments go to benchmarks/harness.py, e.g. `nox -s bench -- --matrix-log LOG --phases envs`;
    cells side by side with a previous harness: `nox -s bench -- --phases versus --against REF`; what new tests
    cost a warm cell: add `--max-cost 1.3`."""
    session.run(sys.executable, str(ROOT / "benchmarks" / "harness.py"), *session.posargs)
