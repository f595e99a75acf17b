"""Publishing: cell result files -> matrix.json, the detail files, matrix.md, index.html and the README
table, atomically, completely, with the checkout's suite columns and no absolute path of the machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins, load_pins
from kvmatrix.publish.publish_run import README_END, README_START, IncompleteRun, embed_in_readme, publish
from kvmatrix.record.detail import join
from kvmatrix.record.matrix import ReportError, load_matrix, load_published
from tests.support.publish import LAYER, LIST, PINS, SUITES, cell_result, checkout, write_result

REPO = Path(__file__).resolve().parents[3]
MAX_ENTRY_BYTES = 120
"""matrix.json may take at most this many bytes per (cell, test, mode) entry of its tests tables, everything else
included: it is what a client downloads, and it grows with the matrix's breadth (pairs, suites) by design, so
its encoding is what is held (the published 13-cell matrix takes about 87 bytes an entry; the 9-cell one below,
with its long test names and every test failing, about 114)."""


def assert_compact(matrix_file: Path) -> None:
    """matrix_file's size is under MAX_ENTRY_BYTES per entry of its cells' tests tables."""
    entries = sum(len(modes) for cell in json.loads(matrix_file.read_text())["cells"]
                  for modes in cell.get("tests", {}).values())
    size = matrix_file.stat().st_size
    assert size < MAX_ENTRY_BYTES * entries, f"{size:,} bytes for {entries:,} entries"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with the suites compile, export and roundtrip."""
    return checkout(tmp_path / "repo", SUITES)


def test_one_cell_run_updates_that_cell_and_keeps_the_other(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports, root=repo)
    write_result(results, cell_result(LAYER, "fail"))
    matrix = publish(PINS, (LAYER,), results, reports, root=repo)
    verdicts = {c["id"]: c["suites"]["export"]["with"]["verdict"] for c in matrix["cells"]}
    assert verdicts == {LIST.id: "pass", LAYER.id: "fail"}
    assert load_matrix(reports / "matrix.json") == matrix
    assert "| 4.57.6 | 2.13.0 |" in (reports / "matrix.md").read_text()


def test_a_cell_that_left_no_result_is_an_error_not_a_gap(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    matrix = publish(PINS, PINS.cells, results, reports, root=repo)
    missing = next(c for c in matrix["cells"] if c["id"] == LAYER.id)
    assert missing["status"] == "error" and "no result file" in missing["status_reason"]
    assert {m["verdict"] for s in missing["suites"].values() for m in s.values()} == {"error"}


def test_a_corrupt_previous_matrix_stops_publishing_and_changes_nothing(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    reports.mkdir()
    (reports / "matrix.json").write_text('{"schema_version": 1, "cells": [')
    write_result(results, cell_result(LIST, "pass"))
    with pytest.raises(ReportError):
        publish(PINS, (LIST,), results, reports, root=repo)
    assert (reports / "matrix.json").read_text() == '{"schema_version": 1, "cells": ['
    assert not (reports / "matrix.md").exists()


def test_readme_table_is_replaced_between_markers_only(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "xfail"))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    publish(PINS, (LIST,), results, reports, readme, root=repo)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| you want to | newest pair where it works | what to call there | since which release |" in text


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        embed_in_readme("no markers here", {"generated_at": "x", "suites": [], "cells": []}, {"uses": []})


def test_publish_writes_page_badges_history_and_changes_from_the_previous_matrix(
    tmp_path: Path, repo: Path
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    first = publish(PINS, PINS.cells, results, reports, root=repo)
    assert first["changes"]["new_cells"] == [LIST.id, LAYER.id]
    write_result(results, cell_result(LAYER, "fail"))
    second = publish(PINS, (LAYER,), results, reports, root=repo)
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
    export = json.loads((reports / "badges" / "suite-export.json").read_text())
    assert export["schemaVersion"] == 1 and export["message"] == "1 fail · 1 pass"


def test_the_first_history_also_records_the_matrix_it_is_compared_with(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    first = publish(PINS, (LIST,), results, reports, root=repo)
    (reports / "history.jsonl").unlink()  # a matrix published before the history existed
    write_result(results, {**cell_result(LIST, "pass"), "duration_s": 3.0})  # a new run of the cell
    second = publish(PINS, (LIST,), results, reports, root=repo)
    history = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert [line["generated_at"] for line in history] == [first["generated_at"], second["generated_at"]]


def test_require_complete_refuses_a_partial_run_and_writes_nothing(tmp_path: Path, repo: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports, root=repo)
    before = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    (results / f"{LAYER.id}.json").unlink()
    write_result(results, cell_result(LIST, "fail"))
    with pytest.raises(IncompleteRun, match=f"no result file in .* for {LAYER.id}; nothing was written"):
        publish(PINS, PINS.cells, results, reports, require_complete=True, root=repo)
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize("version", [1, 2])
def test_a_schema_1_or_2_previous_matrix_is_kept_merged_and_diffed_by_the_next_publish(
    tmp_path: Path, repo: Path, version: int
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    old_cells = [cell_result(LIST, "pass"), cell_result(LAYER, "pass")]  # full records inline, as then
    for cell in old_cells:
        cell["runs"]["with"]["log_tail"] = "3 passed in 1.20s"
        del cell["metrics"]
        if version == 1:
            del cell["static_layer_init"], cell["compat_regressions"]
    reports.mkdir()
    (reports / "matrix.json").write_text(json.dumps({
        "schema_version": version, "generated_at": "2026-11-24T10:00:00Z", "pins_file": "pins.toml",
        "suites": SUITES, "cells": old_cells}))
    write_result(results, cell_result(LAYER, "fail"))
    matrix = publish(PINS, (LAYER,), results, reports, root=repo)
    kept = next(c for c in matrix["cells"] if c["id"] == LIST.id)
    assert matrix["schema_version"] == 3 and kept["detail"] == f"cells/{LIST.id}.json"
    static_init = "lazy(key)" if version == 2 else None  # version 1 did not detect it
    assert (kept["static_layer_init"], kept["compat_regressions"]) == (static_init, [])
    assert kept["tests"]["export::test_export"] == {"with": ["pass"], "without": ["pass"]}
    assert {e["cell"] for e in matrix["changes"]["newly_failing"]} == {LAYER.id}
    published, details = load_published(reports / "matrix.json")
    assert published == matrix
    assert details[LIST.id]["runs"]["with"]["log_tail"] == "3 passed in 1.20s"


def test_each_cell_has_a_detail_file_kept_with_its_cell_and_deleted_with_it(
    tmp_path: Path, repo: Path
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "fail"))
    publish(PINS, PINS.cells, results, reports, root=repo)
    detail = json.loads((reports / "cells" / f"{LIST.id}.json").read_text())
    assert (detail["schema_version"], detail["id"], list(detail["runs"])) == (3, LIST.id, ["with", "without"])
    list_detail = (reports / "cells" / f"{LIST.id}.json").read_bytes()
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, (LAYER,), results, reports, root=repo)
    assert (reports / "cells" / f"{LIST.id}.json").read_bytes() == list_detail
    publish(Pins(python="3.11", cells=(LAYER,), path="pins.toml"), (LAYER,), results, reports, root=repo)
    assert sorted(path.name for path in (reports / "cells").iterdir()) == [f"{LAYER.id}.json"]


def test_a_new_suite_file_is_a_new_column_everywhere_with_no_other_edit(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", [*SUITES, "x"])
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass", [*SUITES, "x"]))
    matrix = publish(PINS, (LIST,), results, reports, root=root)
    columns = ["compile", "export", "roundtrip", "x"]
    assert json.loads((reports / "matrix.json").read_text())["suites"] == columns
    assert matrix["cells"][0]["suites"]["x"]["with"] == {"verdict": "pass", "counts": {"pass": 1}}
    assert "| compile | export | roundtrip | x |" in (reports / "matrix.md").read_text()
    assert '<th colspan="2" scope="colgroup">x</th>' in (reports / "index.html").read_text()
    assert json.loads((reports / "badges" / "suite-x.json").read_text())["message"] == "1 pass"


def test_kept_cells_are_summarised_with_the_current_columns_like_fresh_ones(tmp_path: Path) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    publish(PINS, (LIST,), results, reports, root=checkout(tmp_path / "before", SUITES))
    write_result(results, cell_result(LAYER, "pass", [*SUITES, "x"]))
    matrix = publish(PINS, (LAYER,), results, reports, root=checkout(tmp_path / "after", [*SUITES, "x"]))
    kept, fresh = matrix["cells"]
    assert list(kept["suites"]) == list(fresh["suites"]) == ["compile", "export", "roundtrip", "x"]
    assert kept["suites"]["x"]["with"]["verdict"] == "error"  # its runs have no test of the new suite
    assert fresh["suites"]["x"]["with"]["verdict"] == "pass"


MACHINE_PATHS = ("/root/", "/home/", "/work/", "/tmp/", "/usr/")


def test_no_published_file_holds_an_absolute_path_of_the_machine(tmp_path: Path, repo: Path) -> None:
    checkout_dir = "/home/runner/work/kv-cache-compat/kv-cache-compat"
    site = "/work/main/.nox/cell-tf4-57-6-torch2-13-0/lib/python3.11/site-packages"
    record = cell_result(LAYER, "fail")
    failing = {**record["runs"]["with"]["tests"][0],
               "error": f"AssertionError at {site}/torch/_export/x.py:42",
               "reason": f'File "{checkout_dir}/suites/test_export.py", line 9, in test_export',
               "cause_detail": "without a cache: /usr/local/lib/python3.11/site-packages/torch/fx/graph.py:3",
               "cause": "not-cache"}
    record["runs"]["with"]["tests"] = [failing, *record["runs"]["with"]["tests"][1:]]
    record["runs"]["with"]["log_tail"] = "\n".join([
        f"  {site}/torch/fx/graph.py:1586: UserWarning: Node",
        "  /root/.pyenv/versions/3.11.7/lib/python3.11/copyreg.py:105: FutureWarning",
        "E   FileNotFoundError: /tmp/pytest-of-root/pytest-3/test_saved0/program.pt2",
        f"{checkout_dir}/compat/registry.py:38: in register",
        "  /usr/lib/python3/dist-packages/yaml/__init__.py:1",
    ])
    record["runs"]["without"]["log_tail"] = f"{checkout_dir}/.nox/cell-x/bin/python -m pytest suites"
    record["freeze"] = ["torch @ file:///root/wheels/torch-2.13.0-cp311-linux_x86_64.whl"]
    record["registration_report"] = [{"class": "StaticCache", "status": "unsupported", "owner": None,
                                      "reason": f"{site}/transformers/cache_utils.py has no StaticLayer"}]
    record["compat_regressions"] = [{"suite": "export", "name": "test_export", "verdict": "fail",
                                     "error": failing["error"]}]
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, record)
    publish(PINS, (LAYER,), results, reports, root=repo)
    published = {path.relative_to(reports): path.read_text() for path in reports.rglob("*") if path.is_file()}
    assert {"matrix.json", f"cells/{LAYER.id}.json", "index.html", "matrix.md"} <= {str(p) for p in published}
    leaks = {str(path): [p for p in MACHINE_PATHS if p in text] for path, text in published.items()}
    assert {path: found for path, found in leaks.items() if found} == {}
    detail = json.loads(published[Path("cells", f"{LAYER.id}.json")])
    error = detail["runs"]["with"]["tests"][0]["error"]
    assert error == "AssertionError at site-packages/torch/_export/x.py:42"
    assert detail["runs"]["with"]["log_tail"].splitlines()[:4] == [
        "  site-packages/torch/fx/graph.py:1586: UserWarning: Node",
        "  lib/python3.11/copyreg.py:105: FutureWarning",
        "E   FileNotFoundError: …/program.pt2",
        "compat/registry.py:38: in register",
    ]


def fabricated_record(cell: Cell, suites: list[str], tests_per_mode: int) -> dict[str, Any]:
    """A cell record as large as a real one: `tests_per_mode` tests with names as long as the real ones, a
    third failing with a cause, an error of the real length and an upstream issue, a registration report of
    twenty classes, compiled-loop metrics."""
    error = "AssertionError: exported program differs from eager: max abs diff 0.125 at layer 1 " * 2
    tests = []
    for number in range(tests_per_mode):
        failing = number % 3 == 0
        tests.append({
            "suite": suites[number % len(suites)],
            "name": f"test_decode_step_exports_and_matches_eager[DynamicCache-strict-dynamic-{number:02d}]",
            "verdict": "fail" if failing else "pass", "duration_s": 1.25, "reason": None,
            "error": error if failing else None, "metrics": {"export_s": 1.5},
            "cause": "not-cache" if failing else None, "cause_detail": None,
            "upstream": "pytorch/pytorch#152465" if failing else None, "reruns": ["fail"] if failing else [],
        })
    runs = {mode: {"exit_code": 1, "duration_s": 60.0, "log_tail": "x" * 4000, "tests": tests}
            for mode in ("with", "without")}
    loop = {"compile_s": 7.8, "graphs_first_step": 1, "recompiles_after_first_step": 0, "graph_breaks": 0,
            "eager_tokens_per_s": 43.0, "compiled_tokens_per_s": 13.8}
    return {**cell_result(cell, "pass", suites), "runs": runs, "suites": {},
            "registration_report": [{"class": f"SlidingWindowLayer{n}", "status": "already-registered",
                                     "owner": "transformers.integrations.executorch", "reason": None}
                                    for n in range(20)],
            "compat_regressions": [
                {"suite": "export", "name": tests[0]["name"], "verdict": "fail", "error": error}],
            "metrics": {"export_s": {"median": 2.4, "max": 9.7, "n": 7},
                        "compile": {f"test_dynamic_cache_decode_loop_matches_eager[{kind}]": loop
                                    for kind in ("plain", "mark_dynamic", "check", "static")}}}


def test_matrix_json_of_nine_cells_of_64_tests_per_mode_stays_small(tmp_path: Path) -> None:
    suites = [f"suite{number}" for number in range(9)]
    cells = tuple(Cell(transformers=f"4.{50 + n}.0", torch="2.13.0") for n in range(9))
    results, reports = tmp_path / "cells", tmp_path / "reports"
    for cell in cells:
        write_result(results, fabricated_record(cell, suites, 64))
    publish(Pins(python="3.11", cells=cells, path="pins.toml"), cells, results, reports,
            root=checkout(tmp_path / "repo", suites))
    matrix = json.loads((reports / "matrix.json").read_text())
    assert len(matrix["cells"]) == 9 and all(len(cell["tests"]) == 64 for cell in matrix["cells"])
    assert_compact(reports / "matrix.json")


def test_the_committed_matrix_republished_stays_small(tmp_path: Path) -> None:
    reports, results = tmp_path / "reports", tmp_path / "cells"
    shutil.copytree(REPO / "reports", reports)
    committed, details = load_published(reports / "matrix.json")
    first = committed["cells"][0]
    write_result(results, join(first, details[first["id"]]))  # republish one cell as it was
    pins = load_pins(REPO / "pins.toml")
    matrix = publish(pins, pins.select([first["id"]]), results, reports)
    assert len(matrix["cells"]) == len(committed["cells"])
    assert_compact(reports / "matrix.json")


def test_a_cell_without_result_has_every_schema_key_and_no_regression(tmp_path: Path, repo: Path) -> None:
    write_result(tmp_path / "cells", cell_result(LAYER, "pass"))  # a run in which no cell ran is refused
    matrix = publish(PINS, PINS.cells, tmp_path / "cells", tmp_path / "reports", root=repo)
    assert (matrix["cells"][0]["compat_regressions"], matrix["cells"][0]["static_layer_init"]) == ([], None)


def test_a_publish_with_nothing_new_leaves_the_published_record_byte_identical(
    tmp_path: Path, repo: Path
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n{README_START}\n{README_END}\n")
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports, readme, root=repo)
    write_result(results, cell_result(LAYER, "fail"))
    real_run = publish(PINS, (LAYER,), results, reports, readme, root=repo)
    published = {path: path.read_bytes() for path in [readme, *reports.rglob("*")] if path.is_file()}
    again = publish(PINS, PINS.cells, results, reports, readme, root=repo)
    assert {path: path.read_bytes() for path in [readme, *reports.rglob("*")] if path.is_file()} == published
    assert again == load_matrix(reports / "matrix.json") and again["changes"] == real_run["changes"]
    assert again["changes"]["newly_failing"]  # the real run's changes, not "No change"


def test_a_publish_with_nothing_new_rerenders_only_the_files_the_renderers_make_differently(
    tmp_path: Path, repo: Path
) -> None:
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    publish(PINS, (LIST,), results, reports, root=repo)
    rendered = (reports / "matrix.md").read_text()
    (reports / "matrix.md").write_text("rendered by an older renderer\n")
    record = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file() and path.name != "matrix.md"}
    publish(PINS, (LIST,), results, reports, root=repo)
    assert (reports / "matrix.md").read_text() == rendered
    assert {path: path.read_bytes() for path in reports.rglob("*")
            if path.is_file() and path.name != "matrix.md"} == record
