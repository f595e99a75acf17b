"""The run history (`reports/history.jsonl`) and what changed between two published matrices.

Each publish appends one line to the history: the matrix's `generated_at` and, per cell, its status and
per suite and mode the verdict and pass counts. `diff` compares the previous published matrix with the
new one, suite by suite and test by test (from the cells' compact test tables, with the errors of the new
tests from their detail records), so the first red after green stands out, and beside a cell whose verdicts
moved it lists the installed packages that moved with them (from the two detail files' `freeze`).
"""

from __future__ import annotations

import json
from typing import Any

from kvmatrix.record.detail import parse_key, records_by_key
from kvmatrix.record.packages import package_changes
from kvmatrix.record.verdicts import FAILING, FAILING_TESTS, MODES, PASS


def snapshot(matrix: dict[str, Any]) -> dict[str, Any]:
    """The history line of a matrix: `generated_at` and, per cell id, its status and per suite and mode
    the verdict, the number of passed tests and the number of tests."""
    cells = {}
    for cell in matrix["cells"]:
        suites = {}
        for suite in matrix["suites"]:
            suites[suite] = {}
            for mode in MODES:
                summary = cell["suites"].get(suite, {}).get(mode, {})
                counts = summary.get("counts") or {}
                suites[suite][mode] = {
                    "verdict": summary.get("verdict"),
                    "passed": counts.get(PASS, 0),
                    "total": sum(counts.values()),
                }
        cells[cell["id"]] = {"status": cell["status"], "suites": suites}
    return {"generated_at": matrix["generated_at"], "cells": cells}


def extend_history(existing: str, matrix: dict[str, Any]) -> str:
    """The history text `existing` (JSON lines, empty for a new history) with the snapshot of `matrix`
    appended as one line."""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    return existing + json.dumps(snapshot(matrix), ensure_ascii=False, separators=(",", ":")) + "\n"


VERDICT_MOVES = ("newly_failing", "newly_passing", "tests_newly_failing", "tests_newly_passing")
"""The keys of `diff` that list verdict moves, each entry naming its `cell`."""


def diff(
    previous: dict[str, Any] | None, current: dict[str, Any], details: dict[str, dict[str, Any]],
    previous_details: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What changed from the `previous` published matrix (None: there was none) to `current`, whose cells'
    detail records by cell id are `details` (for the errors of newly failing tests); `previous_details` are
    the previous matrix's detail records by cell id (for the packages that changed).

    Returns `previous_generated_at`, `new_cells` and `removed_cells` (ids); `newly_failing` and
    `newly_passing` (one entry per cell, suite and mode: `cell`, `suite`, `mode`, `before`, `after`);
    `tests_newly_failing` and `tests_newly_passing` (one entry per cell, mode and test: `cell`, `mode`,
    `suite`, `name`, `before`, `after`, and for a failing test its `error`). A suite or test is newly
    failing when its verdict became failing from anything else (a test that did not exist included), and
    newly passing when it became `pass` from a recorded verdict other than `pass`. `packages_changed`: for
    each cell with a verdict move whose installed set differs from the previous run's, `cell` and `packages`
    (kvmatrix.record.packages.package_changes of the two `freeze`s), so a move can be told apart from a
    change of torch or transformers' dependencies.
    """
    before = {cell["id"]: cell for cell in previous["cells"]} if previous else {}
    after = {cell["id"]: cell for cell in current["cells"]}
    changes: dict[str, Any] = {
        "previous_generated_at": previous["generated_at"] if previous else None,
        "new_cells": [cell_id for cell_id in after if cell_id not in before],
        "removed_cells": [cell_id for cell_id in before if cell_id not in after],
        "newly_failing": [],
        "newly_passing": [],
        "tests_newly_failing": [],
        "tests_newly_passing": [],
    }
    for cell_id, cell in after.items():
        if cell_id in before:
            _suite_changes(before[cell_id], cell, current["suites"], changes)
            _test_changes(before[cell_id], cell, details[cell_id], changes)
    changes["packages_changed"] = _packages_changed(changes, previous_details or {}, details)
    return changes


def _packages_changed(changes: dict[str, Any], previous_details: dict[str, dict[str, Any]],
                      details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    moved = dict.fromkeys(entry["cell"] for key in VERDICT_MOVES for entry in changes[key])
    found = []
    for cell_id in moved:
        before, after = previous_details.get(cell_id, {}).get("freeze"), details[cell_id].get("freeze")
        if before and after and (packages := package_changes(before, after)):
            found.append({"cell": cell_id, "packages": packages})
    return found


def _suite_changes(
    old: dict[str, Any], new: dict[str, Any], suites: list[str], changes: dict[str, Any]
) -> None:
    for suite in suites:
        for mode in MODES:
            was = old["suites"].get(suite, {}).get(mode, {}).get("verdict")
            now = new["suites"].get(suite, {}).get(mode, {}).get("verdict")
            entry = {"cell": new["id"], "suite": suite, "mode": mode, "before": was, "after": now}
            if now in FAILING and was not in FAILING:
                changes["newly_failing"].append(entry)
            elif now == PASS and was is not None and was != PASS:
                changes["newly_passing"].append(entry)


def _test_changes(old: dict[str, Any], new: dict[str, Any], detail: dict[str, Any],
                  changes: dict[str, Any]) -> None:
    for mode in MODES:
        records = records_by_key(detail, mode)
        for key, modes in new["tests"].items():
            if mode not in modes:
                continue
            was = old["tests"].get(key, {}).get(mode, [None])[0]
            now = modes[mode][0]
            suite, name = parse_key(key)
            entry = {"cell": new["id"], "mode": mode, "suite": suite, "name": name,
                     "before": was, "after": now}
            if now in FAILING_TESTS and was not in FAILING_TESTS:
                changes["tests_newly_failing"].append({**entry, "error": records.get(key, {}).get("error")})
            elif now == PASS and was is not None and was != PASS:
                changes["tests_newly_passing"].append(entry)
