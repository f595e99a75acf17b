"""benchmarks.report: the rendered results name every section and each missed target, put each timed target
beside its physical floor, and date the measurements taken by hand."""

from __future__ import annotations

from benchmarks.report import render
from benchmarks.targets import floor_columns, targets
from tests.support.benchmarks import MEASURED_BY_HAND, RESULTS


def test_render_names_every_section_and_each_missed_target() -> None:
    text = render(RESULTS)
    for heading in ("## Targets (issue 7)", "## 1. One cell's environment", "## 2. Harness overhead per cell",
                    "## 3. Matrix wall time", "## 4. Parallelism inside a cell", "### The two registration runs at once",
                    "## 8. Measured by hand"):
        assert heading in text
    assert text.count("**missed**") == 4
    assert "| warm cell environment | ≤ 1.5 s | 2.00 s |" in text and "| **missed**: misses by 0.50 s (33 % over) |" in text
    assert "Speed-up: **1.7×**; tests whose verdict differs between the two: 0." in text
    assert "More pytest-xdist workers were not measured in this run." in text


def test_each_timed_target_sits_beside_its_physical_floor() -> None:
    rows = {t["name"]: t for t in targets(RESULTS)}
    env = rows["warm cell environment"]
    assert env["floor"] == "0.50 s (`cp -al` of a finished environment's 20000 files)"
    assert env["above"] == "1.50 s, 4.0× the floor"
    cell = rows["harness overhead per cell"]  # tests 30 + 40 s on 2 cores: 35 s; the cell took 110 s
    assert cell["floor"] == "35.0 s (the tests' own times, 70.0 s, ÷ 2 cores)"
    assert cell["above"].startswith("75.0 s, 3.1×")
    assert rows["warm uv vs warm pip + venv"]["floor"] == "—"
    assert rows["default matrix, warm"]["floor"].startswith("35.0 s")
    assert floor_columns(1.0, None, "x") == {"floor": "—", "above": "—"}
    assert "| physical floor | above the floor |" in render(RESULTS)


def test_measurements_taken_by_hand_render_dated_with_their_command() -> None:
    text = render({**RESULTS, "by_hand": [MEASURED_BY_HAND]}).split("## 8. Measured by hand")[1]
    assert "### One intra-op thread per process" in text
    assert 'Measured 2026-12-04 at 8e9326a by `python3 -m nox -s "cell(x)"`: nothing else running.' in text
    assert "| threads | wall |\n| --- | --- |\n| 2 | 100.9 s |\n| 1 | 69.4 s |\n\nFaster." in text
    assert render(RESULTS).split("## 8. Measured by hand")[1].strip() == "None."


def _versus(previous: tuple[float, float], this: tuple[float, float], max_cost: float | None) -> dict:
    """RESULTS with one side-by-side cell: (wall, tests' own time) of the previous tree and of this checkout."""
    none = {"changed": [], "only_before": [], "only_after": []}
    cell = {"cell": "c", "order": ["previous", "this"], "speedup": previous[0] / this[0], "tests": none, "suites": none,
            "previous": {"total_s": previous[0], "tests_s": previous[1]}, "this": {"total_s": this[0], "tests_s": this[1]}}
    return {**RESULTS, "versus": {"against": "abc", "previous_commit": "a" * 40, "this_commit": "b" * 40,
                                  "this_uncommitted": False, "cells": [cell], "max_cost": max_cost}}


def test_the_side_by_side_says_how_much_of_the_cost_factor_the_added_tests_take_by_themselves() -> None:
    # 1.3× of 300 s leaves 90 s; the tests grew by 160 s, 80 s of wall on the fixture's 2 cores.
    text = render(_versus((300.0, 400.0), (420.0, 560.0), 1.3))
    assert ("Room for the new work: at most 1.3× the previous tree's wall leaves 90.0 s above it; the tests' own "
            "time grew by 2 min 40 s, which on 2 cores is 80.0 s of wall by itself, 88.9 % of that room") in text
    assert "the tests' own time did not grow." in render(_versus((300.0, 400.0), (300.0, 390.0), 1.3))
    assert "Room for the new work" not in render(_versus((300.0, 400.0), (420.0, 560.0), None))
