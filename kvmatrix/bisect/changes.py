"""Which tests changed verdict at which release: a table built from the bisect reports
(`reports/bisect/*.json`: one test, exact releases) and, when it exists, the run history
(`reports/history.jsonl`, written by kvmatrix.publish.history: suite verdicts of neighbouring matrix cells, so the
change lies somewhere between two pinned releases).

A history line is `{"generated_at", "cells": {cell id: {"status", "suites": {suite: {mode: {"verdict",
...}}}}}}`; a line of another shape is counted in the notes, never fatal, and a missing file is fine.

CLI: `python -m kvmatrix.bisect.changes [--range "transformers>=4.46,<4.54"] [--reports reports] [--output FILE]`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from kvmatrix.files import write_text_atomic
from kvmatrix.plan.pins import PACKAGES
from kvmatrix.record.verdicts import LABELS, MODES, RAN

SUITE_ROW = "(whole suite)"
"""The test name of a history change: the history keeps suite verdicts, not test verdicts."""
_CELL_ID = re.compile(r"tf(?P<transformers>[^-]+)-torch(?P<torch>[^-]+)")


@dataclass(frozen=True)
class Change:
    """One test whose verdict differs between two releases of `package`, the other package fixed."""

    suite: str
    test: str  # the test's name inside its suite, e.g. test_x[DynamicCache], or SUITE_ROW
    mode: str
    fixed: str  # e.g. "torch 2.6.0"
    package: str
    before: str  # the last release with the old verdict
    after: str  # the first release seen with the new verdict
    old: str
    new: str
    exact: bool  # True when `after` is the first release with the new verdict (a bisect found it)
    source: str


def suite_and_name(node_id: str) -> tuple[str, str]:
    """`suites/test_roundtrip.py::test_x[A]` -> (`roundtrip`, `test_x[A]`), as the in-cell recorder names
    them."""
    path, _, name = node_id.partition("::")
    return Path(path).stem.removeprefix("test_"), name


def from_bisect(report: dict[str, Any], source: str) -> list[Change]:
    """The change a `kvcc-bisect/1` report found (none when it found no flip)."""
    if report.get("outcome") != "flip":
        return []
    suite, name = suite_and_name(report["test"])
    last, first = report["last_good"], report["first_bad"]
    fixed = f"{report['fixed']['package']} {report['fixed']['version']}"
    return [Change(suite, name, report["mode"], fixed, report["range"]["package"], last["version"],
                   first["version"], last["verdict"], first["verdict"], not report.get("between"), source)]


def from_history(lines: Iterable[str], source: str) -> tuple[list[Change], int]:
    """Suite verdict changes between neighbouring pinned releases in the history, and how many lines were
    not understood. Later lines override earlier ones for the same cell, suite and mode; cells that did
    not run (not-installable, infra, error) give no verdict."""
    verdicts: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    unread = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        cells = entry.get("cells") if isinstance(entry, dict) else None
        if not isinstance(cells, dict):
            unread += 1
            continue
        for cell_id, cell in cells.items():
            _collect(cell_id, cell, verdicts)
    changes = []
    for (suite, mode), by_pair in sorted(verdicts.items()):
        for index, package in enumerate(PACKAGES):
            other = PACKAGES[1 - index]
            changes += _steps(suite, SUITE_ROW, mode, package, other, by_pair, source)
    return changes, unread


def _collect(cell_id: str, cell: Any, verdicts: dict[tuple[str, str], dict[tuple[str, str], str]]) -> None:
    """Add the suite verdicts of one history cell (one that ran) to `verdicts`."""
    match = _CELL_ID.fullmatch(cell_id)
    if match is None or not isinstance(cell, dict) or cell.get("status") != RAN:
        return
    pair = (match["transformers"], match["torch"])
    for suite, modes in (cell.get("suites") or {}).items():
        for mode in MODES:
            verdict = (modes or {}).get(mode, {}).get("verdict")
            if verdict:
                verdicts.setdefault((suite, mode), {})[pair] = verdict


def _steps(suite: str, name: str, mode: str, package: str, other: str,
           by_pair: dict[tuple[str, str], str], source: str) -> list[Change]:
    """Verdict changes along `package`'s releases for each fixed version of `other`."""
    series: dict[str, list[tuple[Version, str]]] = {}
    for pair, verdict in by_pair.items():
        pins = dict(zip(PACKAGES, pair, strict=True))
        try:
            series.setdefault(pins[other], []).append((Version(pins[package]), verdict))
        except InvalidVersion:
            continue
    changes = []
    for fixed, points in series.items():
        points.sort()
        for (before, old), (after, new) in pairwise(points):
            if old != new:
                changes.append(Change(suite, name, mode, f"{other} {fixed}", package, str(before), str(after),
                                      old, new, False, source))
    return changes


def load_changes(reports: Path) -> tuple[list[Change], list[str]]:
    """Every change found under `reports` (bisect/*.json and history.jsonl), and notes on what could not
    be read."""
    changes: list[Change] = []
    notes: list[str] = []
    for path in sorted((reports / "bisect").glob("*.json")):
        try:
            changes += from_bisect(json.loads(path.read_text(encoding="utf-8")), path.name)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            notes.append(f"{path.name}: not a readable bisect report ({exc})")
    history = reports / "history.jsonl"
    if history.exists():
        found, unread = from_history(history.read_text(encoding="utf-8").splitlines(), history.name)
        changes += found
        if unread:
            notes.append(f"{history.name}: {unread} line(s) not in the kvmatrix.publish.history format")
    return changes, notes


def in_range(change: Change, requirement: Requirement) -> bool:
    """Whether `change` is a change along `requirement`'s package whose new verdict first shows at a
    release inside its range."""
    return (change.package == requirement.name
            and requirement.specifier.contains(change.after, prereleases=True))


def render_table(changes: list[Change], notes: list[str], title: str) -> str:
    """The Markdown table of `changes`, ordered by test, mode, package and release."""
    lines = [f"# {title}", ""]
    if changes:
        lines += ["| test | mode | fixed | changed at | verdict | source |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in sorted(changes, key=lambda c: (c.suite, c.test, c.mode, c.package, Version(c.after))):
            where = (f"{c.package} {c.after} (after {c.before})" if c.exact
                     else f"{c.package} between {c.before} and {c.after}")
            verdict = f"{LABELS.get(c.old, c.old)} → {LABELS.get(c.new, c.new)}"
            test = f"{c.suite} {c.test}" if c.test == SUITE_ROW else f"{c.suite} · `{c.test}`"
            lines.append(f"| {test} | {c.mode} | {c.fixed} | {where} | {verdict} | {c.source} |")
    else:
        lines.append("No verdict change recorded.")
    if notes:
        lines += ["", "Not read:", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print (or write with --output) the table of verdict changes; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.bisect.changes", description=__doc__.splitlines()[0])
    parser.add_argument("--range", dest="range_", help="only changes at releases in this range, "
                        "e.g. 'transformers>=4.46,<4.54'")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the reports folder to read")
    parser.add_argument("--output", type=Path, help="write the Markdown table here instead of printing it")
    args = parser.parse_args(argv)
    changes, notes = load_changes(args.reports)
    title = "Verdict changes"
    if args.range_:
        try:
            requirement = Requirement(args.range_)
        except InvalidRequirement as exc:
            parser.error(f"--range {args.range_!r}: {exc}")
        changes = [change for change in changes if in_range(change, requirement)]
        title += f" in {args.range_}"
    table = render_table(changes, notes, title)
    if args.output:
        write_text_atomic(args.output, table)
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
