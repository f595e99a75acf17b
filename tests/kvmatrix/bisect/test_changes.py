"""kvmatrix.bisect.changes: the table of verdict changes from bisect reports and the run history (its lines made
by kvmatrix.publish.history itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kvmatrix.bisect.changes import SUITE_ROW, Change, from_bisect, from_history, in_range, load_changes, main
from kvmatrix.publish.history import extend_history

TEST = "suites/test_roundtrip.py::test_key_paths_name_the_cache_fields[DynamicCache]"
NAME = "test_key_paths_name_the_cache_fields[DynamicCache]"


def bisect_report(outcome: str = "flip", between: list | None = None) -> dict:
    probe = {"status": "ran", "summary": None}
    return {
        "schema": "kvcc-bisect/1", "test": TEST, "mode": "without",
        "fixed": {"package": "torch", "version": "2.6.0"},
        "range": {"package": "transformers", "specifier": ">=4.46,<4.54", "versions": []},
        "outcome": outcome, "between": between or [],
        "last_good": {**probe, "version": "4.49.0", "verdict": "fail"},
        "first_bad": {**probe, "version": "4.50.0", "verdict": "pass"} if outcome == "flip" else None,
    }


def history_line(*cells: tuple[str, str, str, str], generated_at: str = "2026-11-25T10:00:00Z") -> str:
    """One history line as kvmatrix.publish.history writes it, for cells given as (transformers, torch, status,
    roundtrip verdict without registration)."""
    matrix = {"generated_at": generated_at, "suites": ["roundtrip"], "cells": [
        {"id": f"tf{tf}-torch{torch}", "status": status,
         "suites": {"roundtrip": {"without": {"verdict": verdict, "counts": {verdict: 1}},
                                  "with": {"verdict": "pass", "counts": {"pass": 1}}}}}
        for tf, torch, status, verdict in cells]}
    return extend_history("", matrix).strip()


def test_a_bisect_flip_is_an_exact_change() -> None:
    assert from_bisect(bisect_report(), "r.json") == [Change(
        "roundtrip", NAME, "without", "torch 2.6.0", "transformers", "4.49.0", "4.50.0", "fail", "pass", True,
        "r.json")]
    assert not from_bisect(bisect_report(between=[{"version": "4.49.1"}]), "r.json")[0].exact
    assert from_bisect(bisect_report("no-flip"), "r.json") == []


def test_history_gives_suite_changes_between_neighbouring_cells_with_the_newest_line_winning() -> None:
    lines = [
        history_line(("4.46.3", "2.6.0", "ran", "pass"), ("4.51.3", "2.6.0", "ran", "pass")),
        history_line(("4.46.3", "2.6.0", "ran", "fail"), ("4.57.6", "2.13.0", "ran", "pass"),
                     ("4.57.6", "2.6.0", "ran", "fail")),
        history_line(("4.60.0", "2.6.0", "not-installable", "not-installable")),  # did not run: no verdict
        "not json",
        json.dumps({"cells": ["a list, not the history format"]}),
    ]
    changes, unread = from_history(lines, "history.jsonl")
    assert unread == 2
    assert [(c.suite, c.test, c.package, c.fixed, c.before, c.after, c.old, c.new, c.exact, c.mode)
            for c in changes] == [
        ("roundtrip", SUITE_ROW, "transformers", "torch 2.6.0", "4.46.3", "4.51.3", "fail", "pass", False,
         "without"),
        ("roundtrip", SUITE_ROW, "transformers", "torch 2.6.0", "4.51.3", "4.57.6", "pass", "fail", False,
         "without"),
        ("roundtrip", SUITE_ROW, "torch", "transformers 4.57.6", "2.6.0", "2.13.0", "fail", "pass", False,
         "without"),
    ]


def test_range_keeps_changes_of_that_package_first_seen_inside_it() -> None:
    (change,) = from_bisect(bisect_report(), "r.json")
    assert in_range(change, Requirement("transformers>=4.46,<4.54"))
    assert not in_range(change, Requirement("transformers>=4.51"))
    assert not in_range(change, Requirement("torch>=2"))


def test_a_missing_history_is_fine_and_a_broken_report_is_noted(tmp_path: Path) -> None:
    (tmp_path / "bisect").mkdir()
    (tmp_path / "bisect" / "good.json").write_text(json.dumps(bisect_report()))
    (tmp_path / "bisect" / "broken.json").write_text("{")
    changes, notes = load_changes(tmp_path)
    assert [c.source for c in changes] == ["good.json"]
    assert len(notes) == 1 and notes[0].startswith("broken.json: not a readable bisect report")


def test_cli_prints_the_table_for_a_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bisect").mkdir()
    (tmp_path / "bisect" / "r.json").write_text(json.dumps(bisect_report()))
    (tmp_path / "history.jsonl").write_text(
        history_line(("4.46.3", "2.5.1", "ran", "fail"), ("4.46.3", "2.6.0", "ran", "pass")) + "\n")
    assert main(["--reports", str(tmp_path), "--range", "transformers>=4.46,<4.54"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("# Verdict changes in transformers>=4.46,<4.54\n")
    assert ("| roundtrip · `test_key_paths_name_the_cache_fields[DynamicCache]` | without | torch 2.6.0 | "
            "transformers 4.50.0 (after 4.49.0) | ❌ fail → ✅ pass | r.json |") in table
    assert "torch between 2.5.1 and 2.6.0" not in table, "a torch change is outside a transformers range"
    assert main(["--reports", str(tmp_path), "--output", str(tmp_path / "changes.md")]) == 0
    written = (tmp_path / "changes.md").read_text()
    assert ("| roundtrip (whole suite) | without | transformers 4.46.3 | torch between 2.5.1 and 2.6.0 | "
            "❌ fail → ✅ pass | history.jsonl |") in written
