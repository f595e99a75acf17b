"""The bisect report: a JSON record (`kvcc-bisect/1`) and a short Markdown page under `reports/bisect/`.

Shape of the JSON (read back by `kvmatrix.bisect.changes`):

    {"schema": "kvcc-bisect/1", "generated_at": "...Z", "test": "suites/...::test_x[DynamicCache]",
     "mode": "without", "fixed": {"package": "torch", "version": "2.6.0"},
     "range": {"package": "transformers", "specifier": ">=4.46,<4.54", "versions": [...]},
     "index": "https://pypi.org/simple", "outcome": "flip" | "no-flip" | "untestable" | "infra",
     "reason": null, "last_good": <probe> | null, "first_bad": <probe> | null,
     "between": [<probe>], "skipped": [<probe>], "probes": [<probe>],
     "repro": {"bisect": "...", "last_good": "...", "first_bad": "..."}}

where a probe is `{"version", "status", "verdict", "summary"}` (kvmatrix.bisect.search.Probe).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kvmatrix.bisect.search import Bisection, Probe
from kvmatrix.files import write_json_atomic, write_text_atomic
from kvmatrix.plan.pins import Cell, utc_now
from kvmatrix.record.verdicts import INFRA, LABELS
from kvmatrix.run.cell import requirements
from kvmatrix.run.process.pytest_run import OFFLINE_ENV

SCHEMA = "kvcc-bisect/1"
MAX_STEM = 160
"""The longest report file stem: with `.json` and an atomic write's temporary prefix and suffix, well under
the 255 bytes a file name may have."""


@dataclass(frozen=True)
class BisectRequest:
    """What to bisect: one suite test in one registration mode, one package fixed, the other ranged."""

    test: str  # a pytest node id under suites/
    mode: str  # with | without
    fixed_package: str
    fixed_version: str
    package: str
    specifier: str  # e.g. ">=4.46,<4.54"

    def cell(self, version: str) -> Cell:
        """The (transformers, torch) cell of `version` of the ranged package with the fixed one."""
        pins = {self.fixed_package: self.fixed_version, self.package: version}
        return Cell(transformers=pins["transformers"], torch=pins["torch"])

    @property
    def name(self) -> str:
        """The report's file stem: test, mode, fixed pin and range, in file-name-safe characters; a stem
        longer than MAX_STEM keeps its start and ends in a digest of the whole, so the report's files (and
        their temporary names) fit the file system's 255 bytes and two questions never share a name."""
        parts = [self.test.split("::", 1)[-1], self.mode, f"{self.fixed_package}{self.fixed_version}",
                 f"{self.package}{self.specifier}"]
        stem = "--".join(re.sub(r"[^A-Za-z0-9._]+", "-", part).strip("-") for part in parts)
        if len(stem) <= MAX_STEM:
            return stem
        return f"{stem[:MAX_STEM - 17]}--{hashlib.sha256(stem.encode()).hexdigest()[:15]}"

    def command(self) -> str:
        """The `nox -s bisect` command that asks this question again."""
        return shlex.join(["nox", "-s", "bisect", "--", "--test", self.test, "--mode", self.mode,
                           "--fixed", f"{self.fixed_package}=={self.fixed_version}",
                           "--range", f"{self.package}{self.specifier}"])


def venv_dir(work: Path, cell: Cell) -> Path:
    """Where the bisect keeps the environment of `cell`: one per version pair, reused across runs."""
    return work / cell.id / "venv"


def repro_command(request: BisectRequest, version: str, work: Path, python: str) -> str:
    """Shell commands that rebuild `version`'s environment (uv, its cache) and run the test alone."""
    cell = request.cell(version)
    venv = venv_dir(work, cell)
    interpreter = str(venv / "bin" / "python")
    env = {**OFFLINE_ENV, "KVCC_REGISTRATION": request.mode, "PYTHONPATH": "."}
    return " && ".join([
        shlex.join(["uv", "venv", "--python", python, str(venv)]),
        shlex.join(["uv", "pip", "install", "--python", interpreter, *requirements(cell)]),
        " ".join(f"{key}={value}" for key, value in env.items())
        + " " + shlex.join([interpreter, "-m", "pytest", request.test, "-p", "no:cacheprovider", "-q"]),
    ])


def build_report(request: BisectRequest, versions: list[str], bisection: Bisection | None, index: str,
                 work: Path, python: str, reason: str | None = None) -> dict[str, Any]:
    """The JSON report; `bisection` is None when the versions could not be listed (`reason` says why,
    and the outcome is `infra`)."""
    def probe(found: Probe | None) -> dict[str, Any] | None:
        return None if found is None else asdict(found)

    found = bisection or Bisection(tuple(versions), (), None, None)
    repro = {"bisect": request.command()}
    for key, end in (("last_good", found.last_good), ("first_bad", found.first_bad)):
        if end is not None:
            repro[key] = repro_command(request, end.version, work, python)
    return {
        "schema": SCHEMA,
        "generated_at": utc_now(),
        "test": request.test,
        "mode": request.mode,
        "fixed": {"package": request.fixed_package, "version": request.fixed_version},
        "range": {"package": request.package, "specifier": request.specifier, "versions": versions},
        "index": index,
        "outcome": "infra" if bisection is None else found.outcome,
        "reason": reason,
        "last_good": probe(found.last_good),
        "first_bad": probe(found.first_bad),
        "between": [asdict(p) for p in found.between],
        "skipped": [asdict(p) for p in found.skipped],
        "probes": [asdict(p) for p in found.probes],
        "repro": repro,
    }


def headline(report: dict[str, Any]) -> str:
    """One sentence saying what the bisect found."""
    package, fixed = report["range"]["package"], report["fixed"]
    first, last = report["first_bad"], report["last_good"]
    if report["outcome"] == "flip":
        candidates = ", ".join([p["version"] for p in report["between"]] + [first["version"]])
        where = f"at {package} {candidates}" if not report["between"] else f"at one of {package} {candidates}"
        return (f"The verdict changes {where}: {_outcome(last)} up to {last['version']}, "
                f"{_outcome(first)} from {first['version']} (with {fixed['package']} {fixed['version']}).")
    if report["outcome"] == "no-flip":
        return (f"No change: {_outcome(last)} at every tested {package} release in "
                f"{report['range']['specifier']} (with {fixed['package']} {fixed['version']}).")
    if report["outcome"] == "infra":
        return f"{LABELS[INFRA]}: the releases could not be listed: {report['reason']}"
    return f"No {package} release in {report['range']['specifier']} could be installed and tested."


def _outcome(probe: dict[str, Any]) -> str:
    verdict = probe["verdict"] if probe["status"] == "ran" else probe["status"]
    return LABELS.get(verdict, verdict)


def bisect_markdown(report: dict[str, Any]) -> str:
    """The Markdown page of a bisect report."""
    package = report["range"]["package"]
    versions = report["range"]["versions"]
    span = f" ({versions[0]} … {versions[-1]})" if versions else ""
    question = (f"{report['fixed']['package']} {report['fixed']['version']} fixed; {package} "
                f"`{report['range']['specifier']}`: {len(versions)} releases from {report['index']}{span}. "
                f"Generated at {report['generated_at']}.")
    title = f"# Bisect: `{report['test']}` ({report['mode']} registration)"
    lines = [title, "", question, "", headline(report)]
    ends = [(label, report[key]) for label, key in (("last good (old verdict)", "last_good"),
                                                    ("first bad (new verdict)", "first_bad")) if report[key]]
    if ends:
        lines += ["", f"| | {package} | verdict | error / reason |", "| --- | --- | --- | --- |"]
        lines += [f"| {label} | {end['version']} | {_outcome(end)} | {_cell_text(end['summary'])} |"
                  for label, end in ends]
    if report["probes"]:
        probed = ", ".join(f"{p['version']} ({_plain(p)})" for p in report["probes"])
        lines += ["", f"Probed, in order: {probed}."]
    if report["skipped"]:
        lines += ["", "Skipped (could not be tested; a neighbour was tried instead):", ""]
        lines += [f"- {p['version']}: {p['status']}: {_cell_text(p['summary'])}" for p in report["skipped"]]
    lines += ["", "Repro:", "", "```sh", *report["repro"].values(), "```"]
    return "\n".join(lines) + "\n"


def _plain(probe: dict[str, Any]) -> str:
    return probe["verdict"] if probe["status"] == "ran" else probe["status"]


def _cell_text(text: str | None) -> str:
    return "—" if not text else " ".join(text.split()).replace("|", "\\|")


def write_report(report: dict[str, Any], directory: Path, name: str) -> tuple[Path, Path]:
    """Write `name`.json and `name`.md under `directory` atomically; returns both paths."""
    json_path, markdown_path = directory / f"{name}.json", directory / f"{name}.md"
    write_json_atomic(json_path, report)
    write_text_atomic(markdown_path, bisect_markdown(report))
    return json_path, markdown_path
