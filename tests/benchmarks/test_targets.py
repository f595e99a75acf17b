"""benchmarks.targets: the targets say what was missed and by how much."""

from __future__ import annotations

from benchmarks.targets import targets
from tests.support.benchmarks import RESULTS


def test_targets_say_what_was_missed_and_by_how_much() -> None:
    rows = {t["name"]: t for t in targets(RESULTS)}
    assert rows["warm cell environment"]["met"] is False
    assert rows["warm cell environment"]["gap"] == "misses by 0.50 s (33 % over)"
    assert rows["warm uv vs warm pip + venv"]["measured"] == "30.0×"
    assert rows["warm uv vs warm pip + venv"]["gap"] == "misses by 20.0× (40 % short)"
    assert rows["harness overhead per cell"]["gap"] == "misses by 17.3 percentage points"
    assert rows["default matrix, warm"]["gap"] == "misses by 15 min 00 s (100 % over)"
    assert targets({}) == []


def _side_by_side(previous_s: float, this_s: float, changed: list[str], only_after: list[str]) -> dict:
    """A `versus` result of one cell run with `--max-cost 1.3`."""
    tests = {"changed": changed, "only_before": [], "only_after": only_after}
    return {"max_cost": 1.3, "cells": [{"previous": {"total_s": previous_s, "tests_s": 10.0},
                                        "this": {"total_s": this_s, "tests_s": 12.0},
                                        "tests": tests, "suites": {"changed": [], "only_before": [], "only_after": []}}]}


def test_the_cost_of_new_tests_is_met_within_its_factor_and_new_tests_are_not_differences() -> None:
    [row] = targets({"versus": _side_by_side(100.0, 125.0, [], ["with::families::new"])})
    assert row["name"] == "cells with the new tests vs without, side by side"
    assert (row["measured"], row["met"], row["gap"]) == ("1.25×", True, "")


def test_the_cost_of_new_tests_misses_over_its_factor_or_when_a_shared_test_moved() -> None:
    [over] = targets({"versus": _side_by_side(100.0, 140.0, [], [])})
    assert (over["measured"], over["met"]) == ("1.40×", False)
    assert over["gap"] == "misses by 0.10× (8 % over)"
    [moved] = targets({"versus": _side_by_side(100.0, 110.0, ["with::export::t0: pass → fail"], [])})
    assert moved["met"] is False and moved["gap"] == "1 verdicts of tests both ran differ (section 5 lists them)"
