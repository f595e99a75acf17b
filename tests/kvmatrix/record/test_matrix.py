"""kvmatrix.record.matrix: building matrix.json from cell records in the pins' order, writing it compact,
reading it back with its detail files (and refusing a file off the schema), and merging a run's cells into the
published ones."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.record.answers import uses_document
from kvmatrix.record.detail import split
from kvmatrix.record.matrix import (
    ReportError,
    load_matrix,
    load_published,
    matrix_text,
    merge_cells,
    new_matrix,
)
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import render_markdown
from tests.support.markdown import section
from tests.support.records import GENERATED_AT, write_published


@pytest.fixture
def both(pins: Pins, ran_cell: dict, uninstallable_cell: dict, published) -> tuple[dict, dict]:
    """The matrix of the fixture's two cells and their details."""
    return published(pins, [ran_cell, uninstallable_cell], GENERATED_AT)


def test_new_matrix_top_level_and_pins_order(matrix: dict) -> None:
    assert list(matrix) == ["schema_version", "generated_at", "pins_file", "suites", "cells", "not_run"]
    assert matrix["schema_version"] == 3
    assert matrix["generated_at"] == GENERATED_AT
    assert matrix["suites"] == ["export", "roundtrip", "compile"]
    assert [cell["id"] for cell in matrix["cells"]] == ["tf4.46.3-torch2.5.1", "tf4.57.6-torch2.13.0"]


def test_planned_cells_without_a_result_are_listed_as_not_run_in_plan_order(
    pins: Pins, ran_cell: dict, make_cell, suites: list[str]
) -> None:
    partial = new_matrix(pins, [split(ran_cell)[0]], suites=suites)
    assert partial["not_run"] == [cell.id for cell in pins.cells if cell.id != ran_cell["id"]]
    everything = [split(make_cell(cell.transformers, cell.torch, ran_cell["runs"]))[0] for cell in pins.cells]
    assert "not_run" not in new_matrix(pins, everything, suites=suites)


def test_new_matrix_defaults_to_now(pins: Pins, ran_cell: dict) -> None:
    stamp = new_matrix(pins, [split(ran_cell)[0]], suites=["export"])["generated_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)


def test_new_matrix_rejects_cells_not_in_pins(pins: Pins, make_cell, suites: list[str]) -> None:
    with pytest.raises(ReportError, match="tf4.40.0-torch2.4.0"):
        new_matrix(pins, [make_cell("4.40.0", "2.4.0", {})], suites=suites)


def test_new_matrix_rejects_cells_missing_schema_keys(pins: Pins, ran_cell: dict, suites: list[str]) -> None:
    summary = split(ran_cell)[0]
    del summary["repro"], summary["metrics"]
    missing = r"cell #1 \(tf4.57.6-torch2.13.0\) is missing key\(s\): metrics, repro"
    with pytest.raises(ReportError, match=missing):
        new_matrix(pins, [summary], suites=suites)


def test_load_matrix_round_trip(tmp_path: Path, matrix: dict, details: dict) -> None:
    path = write_published(tmp_path, matrix, details)
    assert load_matrix(path) == matrix
    assert load_published(path) == (matrix, details)


def test_matrix_json_is_compact_with_one_line_per_cell(matrix: dict) -> None:
    published = {**matrix, "changes": {"new_cells": []}}
    text = matrix_text(published)
    lines = text.splitlines()
    start = lines.index('"cells":[') + 1
    assert [json.loads(line.rstrip(",")) for line in lines[start : start + 2]] == matrix["cells"]
    assert lines[start + 2 :] == ["],", '"not_run":["tf5.24.0-torch2.13.0"],', '"changes":{"new_cells":[]}}']
    assert json.loads(text) == published and "  " not in text


def test_a_missing_or_foreign_detail_file_is_a_report_error(
    tmp_path: Path, matrix: dict, details: dict
) -> None:
    path = write_published(tmp_path, matrix, details)
    detail_path = tmp_path / "cells" / "tf4.57.6-torch2.13.0.json"
    detail_path.write_text(json.dumps({**details["tf4.46.3-torch2.5.1"]}))
    foreign = r"tf4.57.6-torch2.13.0.json: schema_version 3 and id 'tf4.46.3-torch"
    with pytest.raises(ReportError, match=foreign):
        load_published(path)
    detail_path.unlink()
    with pytest.raises(ReportError, match=r"tf4.57.6-torch2.13.0.json: detail file of cell .* not found"):
        load_published(path)
    assert load_matrix(path) == matrix  # the summary alone needs no detail file


def test_load_matrix_truncated_file(tmp_path: Path, matrix: dict) -> None:
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(matrix)[:200])
    with pytest.raises(ReportError, match=r"matrix.json: invalid JSON .* is the file truncated\?"):
        load_matrix(path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda m: m.update(schema_version=4),
            r"schema_version is 4; this reader understands 3 \(and 1, 2, read as 3\)",
        ),
        (lambda m: m.pop("schema_version"), "schema_version is None"),
        (lambda m: m.pop("suites"), r"missing top-level key\(s\): suites"),
        (
            lambda m: m["cells"][1].pop("tests"),
            r"cell #2 \(tf4.57.6-torch2.13.0\) is missing key\(s\): tests",
        ),
        (lambda m: m["cells"][0].update(status="skipped"), "status 'skipped' is not one of"),
    ],
)
def test_load_matrix_off_schema(tmp_path: Path, matrix: dict, change, expected: str) -> None:
    change(matrix)
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(matrix))
    with pytest.raises(ReportError, match=expected):
        load_matrix(path)


def test_load_matrix_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="matrix.json: matrix file not found"):
        load_matrix(tmp_path / "matrix.json")


def test_merge_keeps_other_cells_replaces_rerun_and_drops_removed_pins(
    pins: Pins, make_cell, ran_cell: dict, uninstallable_cell: dict
) -> None:
    removed = make_cell("4.40.0", "2.4.0", {})
    previous = [removed, ran_cell, uninstallable_cell]
    rerun = make_cell("4.46.3", "2.5.1", {}, status="infra", status_reason="index timed out")
    fresh_only = make_cell("5.24.0", "2.13.0", {}, status="error", status_reason="segfault")
    merged = merge_cells(previous, [fresh_only, rerun], pins)
    assert [cell["id"] for cell in merged] == [
        "tf4.46.3-torch2.5.1", "tf4.57.6-torch2.13.0", "tf5.24.0-torch2.13.0",
    ]
    assert merged[0]["status"] == "infra"
    assert merged[1]["runs"] == ran_cell["runs"]
    assert merged[1]["note"] == "layer-based on the newest torch" and merged[1]["tags"] == ["smoke"]


def test_an_infra_run_keeps_the_previous_verdicts_marked_with_the_failed_attempt(
    tmp_path: Path, pins: Pins, make_cell, ran_cell: dict
) -> None:
    infra = make_cell("4.57.6", "2.13.0", {}, status="infra", status_reason="the index answered HTTP 404")
    merged = merge_cells([ran_cell], [infra], pins)
    assert merged[0]["status"] == "ran" and merged[0]["runs"] == ran_cell["runs"]
    assert merged[0]["latest_attempt"] == {"status": "infra", "reason": "the index answered HTTP 404"}
    summary, detail = split(merged[0])
    assert summary["latest_attempt"] == merged[0]["latest_attempt"]
    matrix = new_matrix(pins, [summary], suites=["export", "roundtrip", "compile"])
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(matrix))
    assert load_matrix(path)["cells"][0]["latest_attempt"]["status"] == "infra"  # the schema allows it
    table = section(render_markdown(matrix, {detail["id"]: detail}, uses_document(matrix)), "Matrix")
    assert ("- ⚠️ `tf4.57.6-torch2.13.0`: its latest run could not be installed (🌐 infra: the index answered "
            "HTTP 404); the verdicts shown are from its previous run.") in table
    assert "verdicts from its previous run" in render_page(matrix, {detail["id"]: detail}, uses_document(matrix))
    rerun = merge_cells(merged, [ran_cell], pins)[0]  # a run that installs clears the mark
    assert "latest_attempt" not in rerun


def test_a_cell_that_never_ran_takes_an_infra_result_as_it_is(pins: Pins, make_cell, uninstallable_cell) -> None:
    infra = make_cell("4.46.3", "2.5.1", {}, status="infra", status_reason="index timed out")
    merged = merge_cells([uninstallable_cell], [infra], pins)
    assert merged[0]["status"] == "infra" and "latest_attempt" not in merged[0]


def test_merge_without_previous_and_unknown_fresh(pins: Pins, make_cell, ran_cell: dict) -> None:
    assert [cell["id"] for cell in merge_cells([], [ran_cell], pins)] == ["tf4.57.6-torch2.13.0"]
    with pytest.raises(ReportError, match="fresh cell tf4.40.0-torch2.4.0 is not in"):
        merge_cells([], [make_cell("4.40.0", "2.4.0", {})], pins)


def test_the_matrix_says_which_index_it_holds_as_of(pins: Pins, ran_cell: dict) -> None:
    """matrix.json's `index_snapshot` is the pins' snapshot; matrix.md and the page say it beside `generated at`;
    a matrix from before snapshots says nothing of it."""
    dated = replace(pins, snapshot="2026-12-07T02:00:00Z")
    matrix = new_matrix(dated, [split(ran_cell)[0]], GENERATED_AT, suites=["export"])
    assert matrix["index_snapshot"] == "2026-12-07T02:00:00Z"
    details = {ran_cell["id"]: split(ran_cell)[1]}
    assert f"Generated at {GENERATED_AT}, package index as of 2026-12-07T02:00:00Z from" in render_markdown(matrix, details, uses_document(matrix))
    assert ('<time id="index-as-of" datetime="2026-12-07T02:00:00Z">2026-12-07T02:00:00Z</time>'
            in render_page(matrix, details, uses_document(matrix)))
    undated = new_matrix(pins, [split(ran_cell)[0]], GENERATED_AT, suites=["export"])
    assert "index_snapshot" not in undated
    assert "package index as of" not in render_markdown(undated, details, uses_document(undated))
    assert 'id="index-as-of"' not in render_page(undated, details, uses_document(undated))
