"""Publish refuses, writing nothing, a run whose cell results cannot be trusted to replace the published
matrix: no requested cell left a result, or a result file is not one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kvmatrix.plan.pins import Cell, Pins, load_pins
from kvmatrix.publish.publish_run import IncompleteRun, publish
from kvmatrix.record.matrix import ReportError
from tests.support.publish import cell_result, checkout, write_result

LIST = Cell(transformers="4.53.3", torch="2.13.0")
LAYER = Cell(transformers="4.57.6", torch="2.13.0")
PINS = Pins(python="3.11", cells=(LIST, LAYER), path="pins.toml")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its content."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """An existing reports folder (a refused publish must leave it as it is)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "kept.txt").write_text("published before\n")
    return folder


@pytest.mark.parametrize("cells", [PINS.cells, (LAYER,), ()], ids=["all", "one", "none requested"])
def test_a_run_in_which_no_requested_cell_left_a_result_is_refused(
    tmp_path: Path, reports: Path, cells: tuple[Cell, ...]
) -> None:
    before = tree(reports)
    with pytest.raises(IncompleteRun) as refused:
        publish(PINS, cells, tmp_path / "cells", reports)
    message = str(refused.value)
    assert message.startswith("refusing to publish: no requested cell left a result file in ")
    assert message.endswith("; nothing was written") and "\n" not in message
    assert tree(reports) == before


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"id": "tf4.53.3-torch2.13.0", "status": "ra', "is not valid JSON (Unterminated string"),
        ("", "is not valid JSON (Expecting value at line 1 column 1); is the file truncated?"),
        ("[]", "a cell result must be a JSON object, found an array"),
        ('"ran"', "a cell result must be a JSON object, found a string"),
        ("null", "a cell result must be a JSON object, found null"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["truncated", "empty", "array", "string", "null", "deeply nested"],
)
def test_a_corrupt_cell_result_is_one_error_naming_the_file_and_nothing_is_written(
    tmp_path: Path, reports: Path, content: str, problem: str
) -> None:
    results = tmp_path / "cells"
    results.mkdir()
    (results / f"{LIST.id}.json").write_text(content)
    before = tree(reports)
    with pytest.raises(ReportError) as refused:
        publish(PINS, PINS.cells, results, reports)
    message = str(refused.value)
    assert message.startswith(f"{results / f'{LIST.id}.json'}: ") and problem in message
    assert "\n" not in message
    assert tree(reports) == before


SELECTOR_PINS = f"""\
schema_version = 1
python = "3.11"

[[cell]]
transformers = "{LIST.transformers}"
torch = "{LIST.torch}"

[[cell]]
transformers = "latest"
torch = "latest"
"""


def published_reports(tmp_path: Path) -> tuple[Path, Path]:
    """(results, reports): both cells of PINS published, their result files left in results."""
    root = checkout(tmp_path / "repo", ["export"])
    results, reports = tmp_path / "cells", tmp_path / "reports"
    for cell in PINS.cells:
        write_result(results, cell_result(cell, "pass", ["export"]))
    publish(PINS, PINS.cells, results, reports, root=root)
    return results, reports


def test_pins_with_selectors_are_refused_in_one_line_and_the_matrix_kept(tmp_path: Path) -> None:
    results, reports = published_reports(tmp_path)
    (tmp_path / "pins-latest.toml").write_text(SELECTOR_PINS)
    selectors = load_pins(tmp_path / "pins-latest.toml")
    before = tree(reports)
    with pytest.raises(IncompleteRun) as refused:
        publish(selectors, selectors.cells, results, reports, root=tmp_path / "repo")
    message = str(refused.value)
    assert message.startswith(f"refusing to publish {tmp_path / 'pins-latest.toml'}: it has cells with version "
                              "selectors") and "`nox -s latest`" in message and "\n" not in message
    assert tree(reports) == before


def test_a_publish_that_would_drop_every_cell_of_the_matrix_is_refused(tmp_path: Path) -> None:
    results, reports = published_reports(tmp_path)
    other = Cell(transformers="5.24.0", torch="2.13.0")
    write_result(results, cell_result(other, "pass", ["export"]))
    before = tree(reports)
    with pytest.raises(IncompleteRun) as refused:
        publish(Pins(python="3.11", cells=(other,), path="other.toml"), (other,), results, reports,
                root=tmp_path / "repo")
    assert str(refused.value).startswith(f"refusing to publish: other.toml names none of the 2 cells of "
                                         f"{reports / 'matrix.json'}, so publishing would drop them all")
    assert tree(reports) == before


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": LAYER.id}, f"the result is for cell '{LAYER.id}'"),
        ({"pins": {"transformers": LIST.transformers, "torch": "2.12.0"}},
         "its torch pin '2.12.0' is not the cell's '2.13.0'"),
        ({"pins": {"transformers": "4.57.6", "torch": LIST.torch}},
         "its transformers pin '4.57.6' is not the cell's '4.53.3'"),
        ({"runs": []}, "runs is an array, not dict"),
        ({"duration_s": "1.0"}, "duration_s is a string, not int or float"),
        ({"duration_s": True}, "duration_s is a boolean, not int or float"),
        ({"repro": None}, "repro is null, not str"),
        ({"status": "passed"}, "status 'passed' is not one of"),
        ({"registration_report": [{"class": ["Cache"], "status": "ok"}]},
         "registration_report entry #1 is not an object with string class, status"),
        ({"registration_report": ["Cache"]}, "registration_report entry #1 is not an object"),
        ({"python": "3.10.13"}, "it ran on Python 3.10.13 where the plan runs the cell on 3.11"),
        ({"python": "3.1"}, "it ran on Python 3.1 where the plan runs the cell on 3.11"),
    ],
    ids=["another cell's id", "torch pin", "transformers pin", "runs type", "duration type", "duration bool",
         "repro null", "unknown status", "report entry field", "report entry type",
         "another python", "a python minor's prefix"],
)
def test_a_result_that_is_not_the_planned_cells_is_refused_naming_the_file(
    tmp_path: Path, change: dict, problem: str
) -> None:
    results, reports = published_reports(tmp_path)
    path = results / f"{LIST.id}.json"
    path.write_text(json.dumps({**cell_result(LIST, "fail", ["export"]), **change}))
    before = tree(reports)
    with pytest.raises(ReportError) as refused:
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")
    message = str(refused.value)
    assert message.startswith(f"{path}: {problem}") and message.endswith(f"refusing to publish it as cell {LIST.id}")
    assert tree(reports) == before


def test_a_result_lacking_a_record_key_is_refused_naming_the_file(tmp_path: Path) -> None:
    results, reports = published_reports(tmp_path)
    record = cell_result(LIST, "fail", ["export"])
    del record["freeze"], record["metrics"]
    (results / f"{LIST.id}.json").write_text(json.dumps(record))
    with pytest.raises(ReportError, match=r"the result lacks key\(s\) freeze, metrics; refusing"):
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")


def test_a_cell_with_its_own_python_is_published_from_a_result_on_that_python_only(tmp_path: Path) -> None:
    """The default matrix runs one pair on its own Python; the full grid plans the same pair on the file's.
    Each accepts only the result that ran on the Python it plans."""
    results, reports = published_reports(tmp_path)
    own = Cell(transformers=LIST.transformers, torch=LIST.torch, python="3.10")
    on_its_own = Pins(python="3.11", cells=(own, LAYER), path="pins.toml")
    (results / f"{LIST.id}.json").write_text(json.dumps({**cell_result(LIST, "fail", ["export"]), "python": "3.10.13"}))
    matrix = publish(on_its_own, (own,), results, reports, root=tmp_path / "repo")
    assert {cell["id"]: cell["python"] for cell in matrix["cells"]}[LIST.id] == "3.10.13"
    with pytest.raises(ReportError, match=r"it ran on Python 3\.10\.13 where the plan runs the cell on 3\.11; "):
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")


def _first_test(record: dict) -> dict:
    return record["runs"]["with"]["tests"][0]


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda r: r["runs"].update({"with": []}), "runs.with is an array, not dict"),
        (lambda r: r["runs"]["with"].update({"tests": 5}), "runs.with.tests is a number, not list"),
        (lambda r: r["runs"]["with"]["tests"].__setitem__(0, 5), "runs.with.tests[0] is a number, not dict"),
        (lambda r: _first_test(r).update({"name": 5}), "runs.with.tests[0].name is a number, not str"),
        (lambda r: _first_test(r).update({"error": ["x"]}), "runs.with.tests[0].error is an array, not str or null"),
        (lambda r: _first_test(r).update({"verdict": "great"}), "runs.with.tests[0].verdict 'great' is not one of"),
        (lambda r: _first_test(r).update({"reruns": ["pass", 1]}), "runs.with.tests[0].reruns[1] 1 is not one of"),
        (lambda r: _first_test(r).update({"metrics": {"export_s": [1]}}),
         "runs.with.tests[0].metrics.export_s is an array, not str or int or float or null"),
        (lambda r: r["metrics"].update({"export_s": 5}), "metrics.export_s is a number, not dict"),
        (lambda r: r["metrics"].update({"compile": {"test_x": 5}}), "metrics.compile.test_x is a number, not dict"),
        (lambda r: r.update({"freeze": [5]}), "freeze[0] is a number, not str"),
    ],
    ids=["run an array", "tests a number", "test a number", "test name a number", "error an array",
         "unknown verdict", "unknown re-run verdict", "test metric an array", "export_s a number",
         "compile loop a number", "freeze entry a number"],
)
def test_a_result_with_a_wrong_type_below_its_keys_is_refused_naming_the_file_and_field(
    tmp_path: Path, damage: Callable[[dict], None], problem: str
) -> None:
    """These crashed the publish with a traceback (in rederive, metrics or the Markdown renderer)."""
    results, reports = published_reports(tmp_path)
    record = cell_result(LIST, "fail", ["export"])
    damage(record)
    path = results / f"{LIST.id}.json"
    path.write_text(json.dumps(record))
    before = tree(reports)
    with pytest.raises(ReportError) as refused:
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")
    message = str(refused.value)
    assert message.startswith(f"{path}: {problem}") and "\n" not in message
    assert tree(reports) == before


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda cell: cell.update({"tests": 5}), "tests is a number, not dict"),
        (lambda cell: cell.update({"tests": {"export::t": {"with": [5]}}}),
         "tests['export::t'].with is not an array of a verdict and texts"),
        (lambda cell: cell.update({"metrics": {"export_s": 5}}), "metrics.export_s is a number, not dict"),
        (lambda cell: cell.update({"note": 5}), "note is a number, not str"),
    ],
    ids=["tests a number", "table entry", "export_s a number", "note a number"],
)
def test_a_previous_matrix_with_a_wrong_type_in_a_cell_is_refused_naming_the_file_and_field(
    tmp_path: Path, damage: Callable[[dict], None], problem: str
) -> None:
    results, reports = published_reports(tmp_path)
    matrix_path = reports / "matrix.json"
    matrix = json.loads(matrix_path.read_text())
    damage(matrix["cells"][0])
    matrix_path.write_text(json.dumps(matrix))
    before = tree(reports)
    with pytest.raises(ReportError) as refused:
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")
    message = str(refused.value)
    assert message.startswith(f"{matrix_path}: cell #1 ({LIST.id}): {problem}") and "\n" not in message
    assert tree(reports) == before


def test_a_previous_detail_file_with_a_wrong_type_in_its_runs_is_refused_naming_it(tmp_path: Path) -> None:
    results, reports = published_reports(tmp_path)
    detail_path = reports / "cells" / f"{LAYER.id}.json"
    detail = json.loads(detail_path.read_text())
    detail["runs"]["with"]["tests"][0]["name"] = 5
    detail_path.write_text(json.dumps(detail))
    with pytest.raises(ReportError) as refused:
        publish(PINS, (LIST,), results, reports, root=tmp_path / "repo")
    assert str(refused.value) == f"{detail_path}: runs.with.tests[0].name is a number, not str"
