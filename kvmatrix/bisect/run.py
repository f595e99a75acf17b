"""Run a bisect for real: list the range's releases from the index, probe versions in reused uv
environments under build/bisect/, and write the report under reports/bisect/.

CLI (what `nox -s bisect` runs):

    python -m kvmatrix.bisect.run --test 'suites/test_roundtrip.py::test_x[DynamicCache]' \\
        --mode without --fixed torch==2.6.0 --range 'transformers>=4.46,<4.54'

Run it from the repository root (paths in the report are relative to it). Exit status: 0 when a change
was found or every tested release agrees, 1 when nothing could be tested or the index was unavailable
(`infra`; a report is still written), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from kvmatrix import REPO_ROOT as ROOT
from kvmatrix.bisect.report import BisectRequest, build_report, headline, venv_dir, write_report
from kvmatrix.bisect.search import Bisection, Probe, bisect
from kvmatrix.plan.pins import PACKAGES, ReleasesFn, load_pins
from kvmatrix.plan.releases import IndexUnavailable, PackageNotFound, index_url, list_releases
from kvmatrix.record.verdicts import ERROR, MODES, RAN
from kvmatrix.run.cell import install_cell
from kvmatrix.run.env.envs import VenvError, ensure_venv
from kvmatrix.run.process.pytest_run import run_suites
from kvmatrix.settings import report_bad_settings

TEST_ID = re.compile(r"suites/test_\w+\.py::\w+(\[[^\]]+\])?")


class UsageError(ValueError):
    """The bisect question is malformed; the message says which argument and why."""


def parse_request(test: str, mode: str, fixed: str, range_: str) -> BisectRequest:
    """The BisectRequest of the CLI arguments; raises UsageError naming the bad one."""
    if not TEST_ID.fullmatch(test):
        raise UsageError(f"--test {test!r}: expected a suite node id like "
                         "'suites/test_roundtrip.py::test_key_paths_name_the_cache_fields[DynamicCache]'")
    if mode not in MODES:
        raise UsageError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    pin, ranged = _requirement("--fixed", fixed), _requirement("--range", range_)
    specs = list(pin.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        raise UsageError(f"--fixed {fixed!r}: expected one exact pin like 'torch==2.6.0'")
    if pin.name == ranged.name:
        raise UsageError(f"--fixed and --range name the same package {pin.name!r}; fix one, range the other")
    if not str(ranged.specifier):
        raise UsageError(f"--range {range_!r}: give a version range like 'transformers>=4.46,<4.54'")
    written = range_.strip()[len(ranged.name):].replace(" ", "")  # the range as the user ordered it
    return BisectRequest(test, mode, pin.name, specs[0].version, ranged.name, written)


def _requirement(flag: str, text: str) -> Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"{flag} {text!r}: {exc}") from None
    if requirement.name not in PACKAGES:
        raise UsageError(f"{flag} {text!r}: the package must be one of {', '.join(PACKAGES)}")
    return requirement


def probe_from_run(version: str, test: str, run: dict[str, Any]) -> Probe:
    """The probe of a finished pytest run of `test` alone: its record's verdict, or `error` with the
    collection error or pytest's exit status and last log line when the run recorded no verdict for it."""
    name = test.split("::", 1)[-1]
    record = next((t for t in run.get("tests", []) if t.get("name") == name), None)
    if record is not None:
        summary = record.get("error") or record.get("reason")
        return Probe(version, RAN, record.get("verdict") or ERROR, summary)
    errors = [t["error"] for t in run.get("tests", []) if t.get("verdict") == ERROR and t.get("error")]
    last_line = next((line for line in reversed(run.get("log_tail", "").splitlines()) if line.strip()), "")
    summary = errors[0] if errors else (
        f"no verdict for the test (pytest exit {run.get('exit_code')}): {last_line}")
    return Probe(version, RAN, ERROR, summary)


def run_probe(request: BisectRequest, version: str, work: Path, python: str) -> Probe:
    """Install `version` with the fixed pin in its reused environment (install_cell); run the test alone."""
    cell = request.cell(version)
    try:
        interpreter = ensure_venv(venv_dir(work, cell), python)
    except VenvError as exc:
        return Probe(version, ERROR, None, str(exc))
    outcome = install_cell(cell, interpreter)
    if outcome.status != RAN:
        return Probe(version, outcome.status, None, outcome.reason)
    runs = (work / cell.id / "runs" / request.name).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    run = run_suites(interpreter, ROOT, request.mode, runs, selection=[request.test])
    return probe_from_run(version, request.test, run)


def run_bisect(request: BisectRequest, work: Path, reports: Path, python: str,
               probe: Callable[[str], Probe] | None = None, log: Callable[[str], None] = print,
               releases: ReleasesFn = list_releases) -> dict[str, Any]:
    """List the releases in range with `releases`, bisect them (with `probe`, default `run_probe`), write
    and return the report. An unavailable index gives an `infra` report instead of raising."""
    index = index_url()
    try:
        in_range = SpecifierSet(request.specifier)
        versions = [str(v) for v in releases(request.package, False) if v in in_range]
    except (IndexUnavailable, PackageNotFound) as exc:  # an index without the package is broken, as in latest
        report = build_report(request, [], None, index, work, python, reason=str(exc))
    else:
        log(f"{request.package} {request.specifier}: {len(versions)} releases ({', '.join(versions)})")

        def logged(version: str) -> Probe:
            found = (probe or (lambda v: run_probe(request, v, work, python)))(version)
            detail = f": {found.summary}" if found.summary else ""
            log(f"{request.package} {version}: {found.outcome}{detail}")
            return found

        bisection: Bisection = bisect(versions, logged)
        report = build_report(request, versions, bisection, index, work, python)
    json_path, markdown_path = write_report(report, reports, request.name)
    log(headline(report))
    log(f"wrote {json_path} and {markdown_path}")
    return report


def main(argv: list[str] | None = None) -> int:
    """The CLI; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.bisect.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--test", required=True, help="suite node id, e.g. suites/test_x.py::test_y[Z]")
    parser.add_argument("--mode", required=True, help="registration mode: with | without")
    parser.add_argument("--fixed", required=True, help="the fixed pin, e.g. torch==2.6.0")
    parser.add_argument("--range", required=True, dest="range_", help="e.g. 'transformers>=4.46,<4.54'")
    parser.add_argument("--work", type=Path, default=Path("build/bisect"), help="environments go here")
    parser.add_argument("--reports", type=Path, default=Path("reports/bisect"), help="reports go here")
    parser.add_argument("--python", default=None, help="Python of the environments (default: pins.toml's)")
    args = parser.parse_args(argv)
    if report_bad_settings():
        return 2
    try:
        request = parse_request(args.test, args.mode, args.fixed, args.range_)
    except UsageError as exc:
        parser.error(str(exc))
    python = args.python or load_pins(ROOT / "pins.toml").python
    report = run_bisect(request, args.work, args.reports, python)
    return 0 if report["outcome"] in ("flip", "no-flip") else 1


if __name__ == "__main__":
    raise SystemExit(main())
