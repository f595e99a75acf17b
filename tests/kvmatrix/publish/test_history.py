"""kvmatrix.publish.history: the history line of a publish and the diff between two published matrices."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.publish.history import diff, extend_history, snapshot
from kvmatrix.record.answers import uses_document
from kvmatrix.record.verdicts import summarize_suites
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import render_markdown

LATER = "2026-11-26T10:00:00Z"


@pytest.fixture
def records(ran_cell: dict, uninstallable_cell: dict) -> list[dict[str, Any]]:
    """The full records of the first publish: a cell that ran, then one that could not be installed."""
    return [ran_cell, uninstallable_cell]


@pytest.fixture
def matrix(pins: Pins, records: list[dict], published) -> dict[str, Any]:
    return published(pins, records)[0]


@pytest.fixture
def later(pins: Pins, records: list[dict], published) -> Callable[..., tuple[dict, dict]]:
    """(matrix, details) published a day later from a copy of the records that `change` edits first."""
    def publish(change: Callable[[list[dict]], None] = lambda _: None) -> tuple[dict, dict]:
        edited = copy.deepcopy(records)
        change(edited)
        return published(pins, edited, LATER)
    return publish


def set_test(cell: dict[str, Any], mode: str, name: str, verdict: str, error: str | None = None) -> None:
    """Change one test's verdict in the full record `cell` and re-summarise its suites."""
    for test in cell["runs"][mode]["tests"]:
        if test["name"] == name:
            test.update(verdict=verdict, error=error)
    cell["suites"] = summarize_suites(cell["runs"], ["export", "roundtrip", "compile"], cell["status"])


def test_snapshot_keeps_status_verdicts_and_pass_counts_per_cell_suite_and_mode(matrix: dict) -> None:
    line = snapshot(matrix)
    assert line["generated_at"] == "2026-11-25T10:00:00Z"
    ran = line["cells"]["tf4.57.6-torch2.13.0"]
    assert ran["status"] == "ran"
    assert ran["suites"]["export"] == {
        "with": {"verdict": "pass", "passed": 3, "total": 3},
        "without": {"verdict": "fail", "passed": 1, "total": 3},
    }
    assert line["cells"]["tf4.46.3-torch2.5.1"]["suites"]["compile"]["with"] == {
        "verdict": "not-installable",
        "passed": 0,
        "total": 0,
    }


def test_history_grows_by_one_json_line_per_publish_and_keeps_earlier_lines(matrix: dict, later) -> None:
    first = extend_history("", matrix)
    second = extend_history(first.rstrip("\n"), later()[0])  # a file that lost its last newline
    lines = second.splitlines()
    assert len(lines) == 2 and second.endswith("\n")
    assert [json.loads(line)["generated_at"] for line in lines] == [
        "2026-11-25T10:00:00Z",
        "2026-11-26T10:00:00Z",
    ]


def test_an_unchanged_matrix_has_no_changes(matrix: dict, later) -> None:
    current, details = later()
    changes = diff(matrix, current, details)
    assert changes["previous_generated_at"] == "2026-11-25T10:00:00Z"
    assert all(changes[key] == [] for key in changes if key != "previous_generated_at")
    assert "No change." in render_markdown({**current, "changes": changes}, details, uses_document(current))


def test_first_run_lists_every_cell_as_new(pins: Pins, records: list[dict], published) -> None:
    changes = diff(None, *published(pins, records))
    assert changes["previous_generated_at"] is None
    assert changes["new_cells"] == ["tf4.46.3-torch2.5.1", "tf4.57.6-torch2.13.0"]
    assert changes["newly_failing"] == [] and changes["tests_newly_failing"] == []


def test_a_test_that_turns_red_is_newly_failing_at_suite_and_test_level(matrix: dict, later) -> None:
    changes = diff(matrix, *later(lambda cells: set_test(
        cells[0], "with", "test_export[DynamicCache-strict]", "fail", "AssertionError: cache differs")))
    assert changes["newly_failing"] == [
        {
            "cell": "tf4.57.6-torch2.13.0",
            "suite": "export",
            "mode": "with",
            "before": "pass",
            "after": "fail",
        },
    ]
    assert changes["tests_newly_failing"] == [
        {
            "cell": "tf4.57.6-torch2.13.0",
            "mode": "with",
            "suite": "export",
            "name": "test_export[DynamicCache-strict]",
            "before": "pass",
            "after": "fail",
            "error": "AssertionError: cache differs",
        }
    ]
    assert changes["newly_passing"] == [] and changes["tests_newly_passing"] == []


def test_a_fixed_test_is_newly_passing_and_an_already_failing_one_is_not_reported_again(
    matrix: dict, later
) -> None:
    def change(cells: list[dict]) -> None:
        set_test(cells[0], "without", "test_export[DynamicCache-strict]", "pass")
        set_test(cells[0], "without", "test_export[DynamicCache-nonstrict]", "error", "Segfault")

    changes = diff(matrix, *later(change))
    assert [(e["name"], e["before"], e["after"]) for e in changes["tests_newly_passing"]] == [
        ("test_export[DynamicCache-strict]", "fail", "pass"),
    ]
    assert changes["tests_newly_failing"] == []  # fail -> error is still failing, not newly
    assert changes["newly_failing"] == [] and changes["newly_passing"] == []


def test_a_suite_from_fail_to_pass_is_newly_passing(matrix: dict, later) -> None:
    def change(cells: list[dict]) -> None:
        for name in ("test_export[DynamicCache-strict]", "test_export[DynamicCache-nonstrict]"):
            set_test(cells[0], "without", name, "pass")

    changes = diff(matrix, *later(change))
    assert changes["newly_passing"] == [
        {
            "cell": "tf4.57.6-torch2.13.0",
            "suite": "export",
            "mode": "without",
            "before": "fail",
            "after": "pass",
        },
    ]


def test_a_cell_that_became_uninstallable_is_newly_failing_in_every_suite_and_mode(
    matrix: dict, later, make_cell
) -> None:
    def change(cells: list[dict]) -> None:
        cells[0] = make_cell("4.57.6", "2.13.0", {}, status="not-installable", status_reason="no wheel")

    changes = diff(matrix, *later(change))
    # export/roundtrip passed or failed by test, compile was xfail: none of them was a failing suite verdict
    # except export without registration, which already failed.
    assert {(e["suite"], e["mode"]) for e in changes["newly_failing"]} == {
        ("export", "with"),
        ("roundtrip", "with"),
        ("roundtrip", "without"),
        ("compile", "with"),
        ("compile", "without"),
    }
    assert {e["after"] for e in changes["newly_failing"]} == {"not-installable"}


def test_new_and_removed_cells(matrix: dict, later, make_cell) -> None:
    def change(cells: list[dict]) -> None:
        cells[1] = make_cell("5.24.0", "2.13.0", copy.deepcopy(cells[0]["runs"]))

    changes = diff(matrix, *later(change))
    assert changes["new_cells"] == ["tf5.24.0-torch2.13.0"]
    assert changes["removed_cells"] == ["tf4.46.3-torch2.5.1"]


def test_a_new_failing_test_is_newly_failing_with_its_error_from_the_detail(matrix: dict, later) -> None:
    def change(cells: list[dict]) -> None:
        cells[0]["runs"]["with"]["tests"].append({
            "suite": "roundtrip", "name": "test_new_roundtrip", "verdict": "fail", "duration_s": 0.1,
            "reason": None, "error": "boom",
        })

    changes = diff(matrix, *later(change))
    assert [(e["name"], e["before"], e["error"]) for e in changes["tests_newly_failing"]] == [
        ("test_new_roundtrip", None, "boom")
    ]


def test_markdown_changes_section_lists_the_moves(matrix: dict, later) -> None:
    current, details = later(lambda cells: set_test(
        cells[0], "with", "test_export[DynamicCache-strict]", "fail", "AssertionError: x"))
    current["changes"] = diff(matrix, current, details)
    markdown = render_markdown(current, details, uses_document(current))
    section = markdown[
        markdown.index("## Changes since last run") : markdown.index("## What registration adds")
    ]
    assert "Compared with the matrix generated at 2026-11-25T10:00:00Z." in section
    assert "- newly failing: `tf4.57.6-torch2.13.0` · export (with): ✅ pass → ❌ fail" in section
    assert (
        "  - `tf4.57.6-torch2.13.0` · export · `test_export[DynamicCache-strict]` (with): "
        "✅ pass → ❌ fail: `AssertionError: x`"
    ) in section


@pytest.mark.parametrize("verdict", ["flaky", "setup"])
def test_a_test_becoming_flaky_or_setup_is_never_newly_failing(matrix: dict, later, verdict: str) -> None:
    def change(cells: list[dict]) -> None:
        for mode in ("with", "without"):
            set_test(cells[0], mode, "test_export[DynamicCache-strict]", verdict, "AssertionError: sometimes")

    current, details = later(change)
    changes = diff(matrix, current, details)
    assert changes["newly_failing"] == [] and changes["tests_newly_failing"] == []
    assert current["cells"][1]["suites"]["export"]["with"]["verdict"] == verdict


def test_a_flaky_test_turning_into_a_stable_failure_is_newly_failing(
    pins: Pins, records: list[dict], published
) -> None:
    name = "test_export[DynamicCache-strict]"
    flaky_records = copy.deepcopy(records)
    set_test(flaky_records[0], "with", name, "flaky", "AssertionError: sometimes")
    failing_records = copy.deepcopy(flaky_records)
    set_test(failing_records[0], "with", name, "fail", "AssertionError: always")
    changes = diff(published(pins, flaky_records)[0], *published(pins, failing_records, LATER))
    moves = [(e["suite"], e["before"], e["after"]) for e in changes["newly_failing"]]
    assert moves == [("export", "flaky", "fail")]
    assert [(e["name"], e["before"]) for e in changes["tests_newly_failing"]] == [
        ("test_export[DynamicCache-strict]", "flaky")
    ]


def test_a_cell_whose_verdicts_moved_lists_the_packages_that_moved_with_them(pins: Pins, records, published,
                                                                              later) -> None:
    before, before_details = published(pins, records)

    def change(cells: list[dict]) -> None:
        set_test(cells[0], "with", "test_export[DynamicCache-strict]", "fail", "AssertionError: x")
        cells[0]["freeze"] = [line.replace("+cpu", "") for line in cells[0]["freeze"]] + ["sympy==1.14.0"]
        cells[1]["freeze"] = ["numpy==9.9.9"]  # no verdict of this cell moved: not listed

    current, details = later(change)
    changes = diff(before, current, details, before_details)
    assert changes["packages_changed"] == [{"cell": "tf4.57.6-torch2.13.0", "packages": [
        {"package": "sympy", "before": None, "after": "1.14.0"},
        {"package": "torch", "before": "2.13.0+cpu", "after": "2.13.0"},
    ]}]
    current["changes"] = changes
    assert ("- packages that changed with the verdicts of `tf4.57.6-torch2.13.0`: `sympy` absent → 1.14.0, "
            "`torch` 2.13.0+cpu → 2.13.0") in render_markdown(current, details, uses_document(current))
    assert "packages that changed with the verdicts of" in render_page(current, details, uses_document(current))


def test_a_verdict_move_with_the_same_installed_set_lists_no_packages(pins: Pins, records, published,
                                                                       later) -> None:
    before, before_details = published(pins, records)
    current, details = later(lambda cells: set_test(cells[0], "with", "test_export[DynamicCache-strict]", "fail"))
    changes = diff(before, current, details, before_details)
    assert changes["tests_newly_failing"] and changes["packages_changed"] == []
