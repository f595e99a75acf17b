"""Publishing: cell result files -> matrix.json / matrix.md / README table, atomically and completely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvmatrix.pins import Cell, Pins
from kvmatrix.publish import README_END, README_START, IncompleteRun, embed_in_readme, publish
from kvmatrix.report import ReportError, load_matrix

LIST = Cell(transformers="4.53.3", torch="2.13.0")
LAYER = Cell(transformers="4.57.6", torch="2.13.0")
PINS = Pins(python="3.11", cells=(LIST, LAYER), path="pins.toml")


def cell_result(cell: Cell, verdict: str) -> dict:
    tests = [{"suite": s, "name": f"test_{s}", "verdict": verdict, "duration_s": 0.1, "reason": None,
              "error": None if verdict == "pass" else "AssertionError: boom"} for s in ("export", "roundtrip", "compile")]
    runs = {mode: {"exit_code": 0, "duration_s": 1.0, "log_tail": "", "tests": tests} for mode in ("with", "without")}
    from kvmatrix.verdicts import summarize_suites

    return {**cell.to_json(), "status": "ran", "status_reason": None, "python": "3.11.7",
            "resolved": {"torch": cell.torch, "transformers": cell.transformers}, "freeze": [], "layout": "layer",
            "static_layer_init": "lazy(key)", "registration_report": [], "compat_regressions": [], "runs": runs,
            "suites": summarize_suites(runs, ["export", "roundtrip", "compile"], "ran"),
            "repro": f"nox -s 'cell({cell.id})'", "install_duration_s": 0.5, "duration_s": 2.0}


def write_result(results: Path, record: dict) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{record['id']}.json").write_text(json.dumps(record))


def test_one_cell_run_updates_that_cell_and_keeps_the_other(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports)
    write_result(results, cell_result(LAYER, "fail"))
    matrix = publish(PINS, (LAYER,), results, reports)
    verdicts = {c["id"]: c["suites"]["export"]["with"]["verdict"] for c in matrix["cells"]}
    assert verdicts == {LIST.id: "pass", LAYER.id: "fail"}
    assert load_matrix(reports / "matrix.json") == matrix
    assert "| 4.57.6 | 2.13.0 |" in (reports / "matrix.md").read_text()


def test_a_cell_that_left_no_result_is_an_error_not_a_gap(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    matrix = publish(PINS, PINS.cells, results, reports)
    missing = next(c for c in matrix["cells"] if c["id"] == LAYER.id)
    assert missing["status"] == "error" and "no result file" in missing["status_reason"]
    assert {m["verdict"] for s in missing["suites"].values() for m in s.values()} == {"error"}


def test_a_corrupt_previous_matrix_stops_publishing_and_changes_nothing(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    reports.mkdir()
    (reports / "matrix.json").write_text('{"schema_version": 1, "cells": [')
    write_result(results, cell_result(LIST, "pass"))
    with pytest.raises(ReportError):
        publish(PINS, (LIST,), results, reports)
    assert (reports / "matrix.json").read_text() == '{"schema_version": 1, "cells": ['
    assert not (reports / "matrix.md").exists()


def test_readme_table_is_replaced_between_markers_only(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "xfail"))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    publish(PINS, (LIST,), results, reports, readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| 4.53.3 | 2.13.0 | layer | lazy(key) | ⚠️ xfail 0/1 / ⚠️ xfail 0/1 |" in text


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        embed_in_readme("no markers here", {"generated_at": "x", "suites": [], "cells": []})


def test_publish_writes_page_badges_history_and_changes_from_the_previous_matrix(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    first = publish(PINS, PINS.cells, results, reports)
    assert first["changes"]["new_cells"] == [LIST.id, LAYER.id]
    write_result(results, cell_result(LAYER, "fail"))
    second = publish(PINS, (LAYER,), results, reports)
    failing = {(e["cell"], e["suite"], e["mode"]) for e in second["changes"]["newly_failing"]}
    suites, modes = ("export", "roundtrip", "compile"), ("with", "without")
    assert failing == {(LAYER.id, suite, mode) for suite in suites for mode in modes}
    assert load_matrix(reports / "matrix.json")["changes"] == second["changes"]
    history = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert [line["generated_at"] for line in history] == [first["generated_at"], second["generated_at"]]
    export_with = history[1]["cells"][LAYER.id]["suites"]["export"]["with"]
    assert export_with == {"verdict": "fail", "passed": 0, "total": 1}
    assert "## Changes since last run" in (reports / "matrix.md").read_text()
    assert f"newly failing: `{LAYER.id}` · export (with)" in (reports / "matrix.md").read_text()
    assert f'<tr id="cell-{LAYER.id}"' in (reports / "index.html").read_text()
    overall = json.loads((reports / "badges" / "overall.json").read_text())
    assert overall["schemaVersion"] == 1 and overall["message"] == "1 fail · 1 pass"


def test_the_first_history_also_records_the_matrix_it_is_compared_with(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    first = publish(PINS, (LIST,), results, reports)
    (reports / "history.jsonl").unlink()  # a matrix published before the history existed
    second = publish(PINS, (LIST,), results, reports)
    history = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert [line["generated_at"] for line in history] == [first["generated_at"], second["generated_at"]]


def test_require_complete_refuses_a_partial_run_and_writes_nothing(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports)
    before = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    (results / f"{LAYER.id}.json").unlink()
    write_result(results, cell_result(LIST, "fail"))
    with pytest.raises(IncompleteRun, match=f"no result file in .* for {LAYER.id}; nothing was written"):
        publish(PINS, PINS.cells, results, reports, require_complete=True)
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == before


def test_a_schema_1_previous_matrix_is_kept_merged_and_diffed_by_the_next_publish(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports)
    old = json.loads((reports / "matrix.json").read_text())  # rewritten as schema 1, as published before
    old["schema_version"] = 1
    for cell in old["cells"]:
        del cell["static_layer_init"], cell["compat_regressions"]
    (reports / "matrix.json").write_text(json.dumps(old))
    write_result(results, cell_result(LAYER, "fail"))
    matrix = publish(PINS, (LAYER,), results, reports)
    kept = next(c for c in matrix["cells"] if c["id"] == LIST.id)
    assert matrix["schema_version"] == 2
    assert (kept["static_layer_init"], kept["compat_regressions"]) == (None, [])
    assert {e["cell"] for e in matrix["changes"]["newly_failing"]} == {LAYER.id}
    assert load_matrix(reports / "matrix.json") == matrix


def test_a_cell_without_result_has_every_schema_key_and_no_regression(tmp_path: Path) -> None:
    write_result(tmp_path / "cells", cell_result(LAYER, "pass"))  # a run in which no cell ran is refused
    matrix = publish(PINS, PINS.cells, tmp_path / "cells", tmp_path / "reports")
    assert (matrix["cells"][0]["compat_regressions"], matrix["cells"][0]["static_layer_init"]) == ([], None)
