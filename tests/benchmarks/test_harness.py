"""benchmarks.harness: the phases not measured now carried with their run, the matrix run read from its cell
records, measurements by hand kept, and the results file's layout."""

from __future__ import annotations

import json

from benchmarks.harness import by_hand, carry, dumps, main, matrix_run
from benchmarks.report import render
from tests.support.benchmarks import MEASURED_BY_HAND, RECORD, RESULTS


def test_phases_not_measured_now_are_carried_with_the_run_they_came_from() -> None:
    earlier = {"started_at": "2026-11-25T10:00:00Z", "modes": {"rows": []}, "xdist": {"x": 1},
               "carried": {"xdist": "2026-11-01T00:00:00Z"}}
    now = {"started_at": "2026-12-03T16:00:00Z", "envs": {"new": True}}
    carry(now, earlier, ["envs", "modes", "xdist", "scaling"])
    assert now["envs"] == {"new": True} and now["modes"] == {"rows": []} and "scaling" not in now
    assert now["carried"] == {"modes": "2026-11-25T10:00:00Z", "xdist": "2026-11-01T00:00:00Z"}
    assert "`modes` from the run started 2026-11-25T10:00:00Z" in render({**RESULTS, "carried": now["carried"]})


def test_the_matrix_run_reads_its_cell_records_and_not_the_run_plan(tmp_path) -> None:
    (tmp_path / "run-plan.json").write_text(json.dumps({"decisions": []}))
    (tmp_path / f"{RECORD['id']}.json").write_text(json.dumps(RECORD))
    run = matrix_run(None, tmp_path)
    assert [cell["id"] for cell in run["cells"]] == [RECORD["id"]] and run["wall_s"] is None
    assert run["cells_with_clients"] == 0


def test_a_run_keeps_the_measurements_by_hand_of_the_results_it_replaces(tmp_path) -> None:
    out = tmp_path / "RESULTS.md"
    (tmp_path / "RESULTS.json").write_text(json.dumps({"by_hand": [MEASURED_BY_HAND], "envs": {"stale": True}}))
    assert by_hand(tmp_path / "RESULTS.json") == [MEASURED_BY_HAND] and by_hand(tmp_path / "absent.json") == []
    assert main(["--phases", "", "--matrix-cells", str(tmp_path / "none"), "--out", str(out),
                 "--scratch-parent", str(tmp_path)]) == 0  # measures nothing: writes what it has
    written = json.loads((tmp_path / "RESULTS.json").read_text())
    assert written["by_hand"] == [MEASURED_BY_HAND] and "envs" not in written  # by hand kept, phases not carried
    assert "### One intra-op thread per process" in out.read_text()


def test_the_results_json_puts_each_list_of_plain_values_on_one_line() -> None:
    results = {"a": {"samples": [0.7, 0.73], "rows": [["x", "1 s"], ["y", "2 s"]], "empty": {}}, "b": []}
    text = dumps(results)
    assert json.loads(text) == results
    assert '  "samples": [0.7, 0.73],\n' in text and '   ["x", "1 s"],\n' in text and '"empty": {}' in text
