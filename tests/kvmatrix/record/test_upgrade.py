"""kvmatrix.record.upgrade: a matrix of an older schema (1 or 2, full records inline) is read as schema 3."""

from __future__ import annotations

import json
from pathlib import Path

from kvmatrix.plan.pins import Pins
from kvmatrix.record.matrix import load_matrix, load_published
from kvmatrix.record.paths import pins_file_name
from tests.support.records import GENERATED_AT


def schema_2_file(path: Path, pins: Pins, records: list[dict], suites: list[str]) -> dict:
    """`records` written to `path` as a schema-2 matrix (full records inline); returns the matrix."""
    matrix = {"schema_version": 2, "generated_at": GENERATED_AT, "pins_file": pins_file_name(pins.path), "suites": suites,
              "cells": json.loads(json.dumps(records))}  # the fixture's two runs share test records
    path.write_text(json.dumps(matrix))
    return matrix


def test_a_schema_2_matrix_is_read_as_schema_3_with_its_runs_in_the_details(
    tmp_path: Path, pins: Pins, ran_cell: dict, uninstallable_cell: dict, suites: list[str], published
) -> None:
    old = schema_2_file(tmp_path / "matrix.json", pins, [uninstallable_cell, ran_cell], suites)
    del old["cells"][1]["metrics"]  # a schema-2 cell written without metrics gets them from its runs
    (tmp_path / "matrix.json").write_text(json.dumps(old))
    matrix, details = load_published(tmp_path / "matrix.json")
    expected, expected_details = published(pins, [uninstallable_cell, ran_cell], GENERATED_AT)
    del expected["not_run"]  # a matrix written before the key does not say what it left out
    assert (matrix, details) == (expected, expected_details)
    assert matrix["cells"][1]["metrics"] == {"compile": {}}
    assert details["tf4.57.6-torch2.13.0"]["runs"] == old["cells"][1]["runs"]
    assert matrix["cells"][1]["tests"]["export::test_export[DynamicCache-strict]"] == {
        "with": ["pass"], "without": ["fail"]}
    assert load_matrix(tmp_path / "matrix.json") == matrix


def test_a_schema_1_matrix_is_read_as_schema_3(
    tmp_path: Path, pins: Pins, ran_cell: dict, uninstallable_cell: dict, suites: list[str]
) -> None:
    old = schema_2_file(tmp_path / "matrix.json", pins, [uninstallable_cell, ran_cell], suites)
    old["schema_version"] = 1
    for cell in old["cells"]:
        del cell["static_layer_init"], cell["compat_regressions"]
    roundtrip = next(t for t in old["cells"][1]["runs"]["with"]["tests"] if t["suite"] == "roundtrip")
    roundtrip.update(verdict="fail", error="boom")  # it passes without registration
    (tmp_path / "matrix.json").write_text(json.dumps(old))
    upgraded, details = load_published(tmp_path / "matrix.json")
    assert upgraded["schema_version"] == 3
    assert [(c["static_layer_init"], c["compat_regressions"]) for c in upgraded["cells"]] == [
        (None, []),
        (None, [{"suite": "roundtrip", "name": "test_roundtrip[DynamicCache]", "verdict": "fail",
                 "error": "boom"}]),
    ]
    assert upgraded["cells"][1]["tests"]["roundtrip::test_roundtrip[DynamicCache]"] == {
        "with": ["fail", "compat"], "without": ["pass"]}
    tests = details["tf4.57.6-torch2.13.0"]["runs"]["with"]["tests"]
    causes = {(t["suite"], t["cause"], t["cause_detail"], t["upstream"]) for t in tests}
    compat = ("roundtrip", "compat", "passes with transformers alone; fails after compat.register()", None)
    assert causes == {("export", None, None, None), ("compile", None, None, None), compat}
    runs = details["tf4.57.6-torch2.13.0"]["runs"].values()
    assert all(t["reruns"] == [] for run in runs for t in run["tests"])
