"""The noxfile turns a bad pins file, an index that does not answer properly and a publish that cannot be
done into one clear error line, and lists one session per pinned cell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import load_pins
from kvmatrix.publish.publish_run import README_END, README_START
from kvmatrix.render.text import markdown_text
from kvmatrix.run.cell import inputs_of
from kvmatrix.run.env.interpreters import find_interpreter
from tests.support.checkouts import checkout_copy, nox_publish_committed
from tests.support.hostile import (
    HOSTILE,
    METRICS,
    UNESCAPED_BRACKET,
    USE_TEST,
    assert_tables_keep_their_cells,
    hostile_cell,
)
from tests.support.index_server import (
    CORRUPT_JSON,
    ERROR_JSON,
    NOT_FOUND,
    Answer,
    only_index_env,
    serve_index,
)
from tests.support.publish import write_result

ROOT = Path(__file__).resolve().parents[2]


def nox_list(pins: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KVCC_PINS": pins}
    return subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=ROOT, env=env, capture_output=True, text=True)


def nox_session(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`nox -s ARGS...` from the repository, with `env` added to the environment."""
    return subprocess.run([sys.executable, "-m", "nox", "-s", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True)


def one_clear_error(proc: subprocess.CompletedProcess, *expected: str) -> None:
    """The session failed, without a traceback, and one line of its output holds every `expected` text."""
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    assert any(all(text in line for text in expected) for line in output.splitlines()), output


def test_latest_with_a_bad_pins_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('schema_version = 1\npython = "3.11"\n')
    one_clear_error(nox_session("latest", "--", "--pins", str(bad), "--plan"), f"{bad}: no cells")


def test_latest_against_an_index_answering_404_is_infra_in_one_line() -> None:
    with serve_index(NOT_FOUND) as index:
        proc = nox_session("latest", "--", "--plan", UV_DEFAULT_INDEX=index.url)
    one_clear_error(proc, "infra: ", "HTTP 404")


@pytest.fixture
def one_result(tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any]) -> Path:
    """A results folder holding the result of tf4.57.6-torch2.13.0, a cell of `pins_file`."""
    results = tmp_path / "cells"
    results.mkdir()
    (results / f"{ran_cell['id']}.json").write_text(json.dumps(ran_cell))
    return results


def nox_publish(pins_file: Path, results: Path, reports: Path) -> subprocess.CompletedProcess:
    return nox_session("publish", "--", "--results", str(results), "--reports", str(reports),
                       "--cells", "tf4.57.6-torch2.13.0", KVCC_PINS=str(pins_file))


def test_publish_of_a_corrupt_cell_result_is_one_clear_error_naming_it(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    result = one_result / "tf4.57.6-torch2.13.0.json"
    result.write_text(result.read_text()[:100])
    one_clear_error(nox_publish(pins_file, one_result, tmp_path / "reports"), str(result), "not valid JSON")
    assert not (tmp_path / "reports").exists()


def test_publish_of_a_run_without_results_is_refused_in_one_line(tmp_path: Path, pins_file: Path) -> None:
    proc = nox_publish(pins_file, tmp_path / "cells", tmp_path / "reports")
    one_clear_error(proc, "refusing to publish: no requested cell left a result file", "nothing was written")
    assert not (tmp_path / "reports").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_publish_into_a_read_only_reports_folder_is_one_clear_error(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir(mode=0o555)
    one_clear_error(nox_publish(pins_file, one_result, reports), "cannot write the reports: ", "Permission denied")


def test_publish_where_the_reports_folder_is_a_file_is_one_clear_error(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    reports = tmp_path / "reports"
    reports.write_text("not a folder")
    one_clear_error(nox_publish(pins_file, one_result, reports), "cannot write the reports: ", str(reports))


def test_publishing_the_same_results_again_says_nothing_new_and_changes_nothing(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    reports = tmp_path / "reports"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    published = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    again = nox_publish(pins_file, one_result, reports)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing new to publish" in again.stdout + again.stderr
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == published


def test_publishing_pins_with_selectors_into_reports_is_refused_in_one_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = nox_session("publish", "--", "--results", str(tmp_path / "cells"), "--reports", str(reports),
                       KVCC_PINS="pins-latest.toml")
    one_clear_error(proc, "refusing to publish pins-latest.toml: it has cells with version selectors",
                    "`nox -s latest`")
    assert not reports.exists()


def test_a_bad_pins_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "pins.toml"
    bad.write_text('schema_version = 1\npython = "3.11"\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\ntorh = "x"\n')
    proc = nox_list(str(bad))
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "unknown field 'torh'" in lines[-1]
    assert "Traceback" not in proc.stderr


def test_every_pinned_cell_is_a_session() -> None:
    proc = nox_list("pins.toml")
    assert proc.returncode == 0, proc.stderr
    for cell in load_pins(ROOT / "pins.toml").cells:
        assert f"cell({cell.id})" in proc.stdout


def test_nox_matrix_reuses_an_unchanged_cell_without_starting_its_session(
    tmp_path: Path, ran_cell: dict[str, Any]
) -> None:
    """The real key (uv compiles the pair; warm cache) of a one-cell pins file matches the result left in
    the results folder: matrix reuses it, starts no cell session, and publishes it marked."""
    pins_file = tmp_path / "pins.toml"
    pins_file.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n')
    (cell,) = load_pins(pins_file).cells
    inputs = inputs_of(cell, find_interpreter("3.11"), ROOT)
    assert inputs is not None, "uv could not resolve the pair"
    results, reports = tmp_path / "cells", tmp_path / "reports"
    results.mkdir()
    finished = "2026-11-30T21:00:00Z"
    (results / f"{cell.id}.json").write_text(json.dumps({**ran_cell, "inputs": inputs, "finished_at": finished}))
    proc = nox_session("matrix", "--", "--results", str(results), "--reports", str(reports),
                       KVCC_PINS=str(pins_file))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"{cell.id}: reused the result of the run finished at {finished}" in output
    assert "Running session cell(" not in output
    detail = json.loads((reports / "cells" / f"{cell.id}.json").read_text())
    assert detail["reused_from"] == finished and detail["inputs"] == inputs


def test_smoke_run_twice_with_its_cells_unchanged_publishes_and_then_has_nothing_new(
    tmp_path: Path, ran_cell: dict[str, Any]
) -> None:
    """The smoke results must not be the smoke reports' detail files: reusing a cell wrote its full record
    over its published detail file, and the publish that followed refused the folder."""
    checkout = tmp_path / "repo"
    for name in ("kvmatrix", "suites", "compat"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "pyproject.toml"):
        shutil.copy(ROOT / name, checkout / name)
    pins_file = tmp_path / "pins.toml"
    pins_file.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.57.6"\n'
                         'torch = "2.13.0"\ntags = ["smoke"]\n')
    (cell,) = load_pins(pins_file).cells
    inputs = inputs_of(cell, find_interpreter("3.11"), checkout)
    assert inputs is not None, "uv could not resolve the pair"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / f"{cell.id}.json").write_text(json.dumps({**ran_cell, "inputs": inputs,
                                                         "finished_at": "2026-11-30T21:00:00Z"}))

    def nox(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "nox", "-s", *args], cwd=checkout, capture_output=True,
                              text=True, env={**os.environ, "KVCC_PINS": str(pins_file)})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    nox("publish", "--", "--results", str(earlier), "--reports", "build/smoke", "--cells", cell.id)
    assert "reused the result" in nox("smoke")
    assert "nothing new to publish" in nox("smoke")


def test_a_matrix_whose_python_is_missing_fails_and_keeps_the_published_verdicts(
    tmp_path: Path, ran_cell: dict[str, Any], make_cell: Callable[..., dict[str, Any]]
) -> None:
    """nox skipped a session whose interpreter it could not find and exited 0; the publish that followed
    replaced that cell's verdicts with `error` ("the cell session did not finish") beside a reused cell."""
    pins_file = tmp_path / "pins.toml"
    pins_file.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.57.6"\n'
                         'torch = "2.13.0"\n\n[[cell]]\ntransformers = "4.46.3"\ntorch = "2.5.1"\n'
                         'python = "3.16"\n')
    reused, missing = load_pins(pins_file).cells
    inputs = inputs_of(reused, find_interpreter("3.11"), ROOT)
    assert inputs is not None, "uv could not resolve the pair"
    earlier, results, reports = tmp_path / "earlier", tmp_path / "cells", tmp_path / "reports"
    earlier.mkdir()
    (earlier / f"{reused.id}.json").write_text(json.dumps({**ran_cell, "inputs": inputs,
                                                           "finished_at": "2026-11-30T21:00:00Z"}))
    old = make_cell(missing.transformers, missing.torch, ran_cell["runs"])
    (earlier / f"{missing.id}.json").write_text(json.dumps({**old, "python": "3.16.0"}))
    first = nox_session("publish", "--", "--results", str(earlier), "--reports", str(reports),
                        KVCC_PINS=str(pins_file))
    assert first.returncode == 0, first.stdout + first.stderr
    published = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    proc = nox_session("matrix", "--", "--results", str(results), "--reports", str(reports),
                       KVCC_PINS=str(pins_file))
    one_clear_error(proc, f"no Python 3.16 on this machine for cell(s) {missing.id}", "nothing was run")
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == published


def test_a_cell_session_whose_python_is_missing_fails_instead_of_being_skipped(tmp_path: Path) -> None:
    pins_file = tmp_path / "pins.toml"
    pins_file.write_text('schema_version = 1\npython = "3.16"\n\n[[cell]]\ntransformers = "4.57.6"\n'
                         'torch = "2.13.0"\n')
    proc = nox_session("cell(tf4.57.6-torch2.13.0)", "--download-python", "never", KVCC_PINS=str(pins_file))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Session cell(tf4.57.6-torch2.13.0) failed: Python interpreter 3.16 not found" in output, output


def test_publish_over_a_matrix_with_a_wrong_type_in_a_cell_is_one_clear_error_naming_the_field(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    reports = tmp_path / "reports"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    matrix = json.loads((reports / "matrix.json").read_text())
    matrix["cells"][0]["tests"] = 5
    (reports / "matrix.json").write_text(json.dumps(matrix))
    one_clear_error(nox_publish(pins_file, one_result, reports), str(reports / "matrix.json"),
                    "tests is a number, not dict")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("KVCC_WORKERS", "0", "must be a whole number from 1 to 256"),
        ("KVCC_TEST_TIMEOUT_S", "0", "must be a whole number from 1 to 86400"),
        ("KVCC_MAX_WORKER_RESTART", "many", "must be a whole number from 0 to 10000"),
        ("KVCC_EXTRA_PLUGINS", "tests.faults.crash_plugin,;rm -rf", "must be comma-separated module names"),
        ("KVCC_MEMORY_LIMIT_GB", "lots", "must be a positive number of gigabytes, or empty"),
        ("KVCC_HANG_DIR", "/no/such/folder", "must name an existing folder"),
        ("KVCC_BYTECODE_STORE", "noxfile.py/bytecode", f"must be empty, `off` or a folder; {ROOT / 'noxfile.py'} is not a folder"),
    ],
)
def test_a_bad_kvcc_value_stops_nox_in_one_line_naming_it(name: str, value: str, problem: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=ROOT, env={**os.environ, name: value},
                          capture_output=True, text=True)
    one_clear_error(proc, f"error: {name}={value!r}: {problem}")


def test_publish_of_pins_naming_only_some_cells_is_refused_and_no_absolute_path_is_published(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], uninstallable_cell: dict[str, Any]
) -> None:
    """A KVCC_PINS file naming one of the published cells dropped the others from matrix.json (and so from
    the README and verified.json), and its absolute path was written as `pins_file`."""
    results, reports = tmp_path / "cells", tmp_path / "reports"
    results.mkdir()
    for record in (ran_cell, uninstallable_cell):
        (results / f"{record['id']}.json").write_text(json.dumps(record))
    first = nox_session("publish", "--", "--results", str(results), "--reports", str(reports),
                        KVCC_PINS=str(pins_file))
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads((reports / "matrix.json").read_text())["pins_file"] == "…/pins.toml"
    assert not [path for path in reports.rglob("*") if path.is_file() and str(tmp_path) in path.read_text()]
    published = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    subset = tmp_path / "subset.toml"
    subset.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.57.6"\n'
                      'torch = "2.13.0"\n')
    proc = nox_session("publish", "--", "--results", str(results), "--reports", str(reports),
                       KVCC_PINS=str(subset))
    one_clear_error(proc, "refusing to publish: ", "was published from …/pins.toml",
                    f"{subset} lacks 1 of its cells (tf4.46.3-torch2.5.1)", "nothing was written")
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == published


@pytest.mark.parametrize("flag", ["--results", "--reports", "--cells", "--resolved"])
def test_a_publish_flag_without_its_value_is_one_clear_error(flag: str) -> None:
    one_clear_error(nox_session("publish", "--", flag), f"{flag} needs a value")


@pytest.mark.parametrize(
    ("pins", "problem"),
    [
        ("", "KVCC_PINS='': must name a file"),
        ("/dev/zero", "/dev/zero: the pins file is not a regular file"),
        ("FIFO", "the pins file is not a regular file"),
        ("BIG", "the pins file is larger than 1000000 bytes"),
    ],
    ids=["empty", "device", "fifo", "huge"],
)
def test_a_pins_file_that_is_not_a_small_regular_file_is_one_clear_error(
    pins: str, problem: str, tmp_path: Path
) -> None:
    """KVCC_PINS= read the current folder, /dev/zero ended in a MemoryError and a FIFO hung `nox -l`."""
    if pins == "FIFO":
        pins = str(tmp_path / "pins.fifo")
        os.mkfifo(pins)
    elif pins == "BIG":
        pins = str(tmp_path / "big.toml")
        Path(pins).write_text("#" * 2_000_000)
    proc = subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=ROOT, env={**os.environ, "KVCC_PINS": pins},
                          capture_output=True, text=True, timeout=60)
    one_clear_error(proc, problem)


def test_a_version_too_long_to_name_a_file_is_one_clear_error(tmp_path: Path) -> None:
    """A 400-character version made a cell id longer than a file name may be (its result and work folder)."""
    long = tmp_path / "pins.toml"
    long.write_text(f'schema_version = 1\npython = "3.11"\n[[cell]]\ntransformers = "4.{"1" * 400}"\ntorch = "2.13.0"\n')
    one_clear_error(nox_list(str(long)), f"{long}: cell #1: transformers '4.111", "is longer than 64 characters")


def test_publish_with_the_results_inside_the_reports_folder_is_refused_and_the_results_kept(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any]
) -> None:
    reports = tmp_path / "reports"
    results = reports / "cells"  # where the publish writes its detail files
    results.mkdir(parents=True)
    result = results / f"{ran_cell['id']}.json"
    result.write_text(json.dumps(ran_cell))
    before = result.read_bytes()
    one_clear_error(nox_publish(pins_file, results, reports), "refusing to publish: the results folder",
                    "overlap", "nothing was written")
    assert result.read_bytes() == before and not (reports / "matrix.json").exists()


def test_publish_into_reports_named_relatively_refreshes_the_readme_and_the_verified_pins(
    tmp_path: Path, pins_file: Path, one_result: Path
) -> None:
    """`--reports reports` is the committed folder, as the default is: the README table and
    compat/verified.json are published with it."""
    checkout = tmp_path / "repo"
    for name in ("kvmatrix", "suites", "compat"):
        shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    verified = (checkout / "compat" / "verified.json").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "nox", "-s", "publish", "--", "--results", str(one_result),
                           "--reports", "reports", "--cells", "tf4.57.6-torch2.13.0"], cwd=checkout,
                          env={**os.environ, "KVCC_PINS": str(pins_file)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    matrix = json.loads((checkout / "reports" / "matrix.json").read_text())
    assert f"Generated at {matrix['generated_at']}" in (checkout / "README.md").read_text()
    assert (checkout / "compat" / "verified.json").read_bytes() != verified


TERMINAL_ATTACK = "boom\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\u202eevil"
"""An error holding a window title, a clipboard write and a screen clear (OSC and ANSI), a carriage return and
a right-to-left override."""


def test_a_publish_prints_no_control_sequence_from_a_cell_record(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], one_result: Path
) -> None:
    reports = tmp_path / "reports"
    assert nox_publish(pins_file, one_result, reports).returncode == 0
    test = next(t for t in ran_cell["runs"]["with"]["tests"] if t["verdict"] == "pass")
    test.update(verdict="fail", error=TERMINAL_ATTACK)
    (one_result / f"{ran_cell['id']}.json").write_text(json.dumps(ran_cell))
    proc = nox_publish(pins_file, one_result, reports)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Tests newly failing" in output and "boom\\x1b]0;owned\\x07\\x1b]52;c;" in output
    assert not {"\x1b", "\x07", "\r", "\u202e"} & set(output), repr(output)


def published_tree(reports: Path) -> dict[Path, bytes]:
    """Every file of a reports folder and its bytes."""
    return {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
@pytest.mark.parametrize("answer", [ERROR_JSON, CORRUPT_JSON], ids=["error-json", "corrupt-json"])
def test_a_cell_whose_index_answers_unexpected_json_is_infra_retried_and_publish_keeps_its_verdicts(
    tmp_path: Path, pins_file: Path, one_result: Path, answer: Answer
) -> None:
    """Issue 31 item 4, through the commands: `python -m kvmatrix.run.cell_cli --pair` against an index answering
    200 with a proxy's error object (or a page cut short) was `error`, tried once, and `nox -s publish` of it
    replaced the cell's published verdicts with `error`. The record keeps no attempt count: a second attempt
    costs the install's 5 s backoff (kvmatrix.run.env.install), where one attempt against loopback takes about 1 s."""
    reports = tmp_path / "reports"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    before = json.loads((reports / "matrix.json").read_text())
    detail_before = (reports / "cells" / "tf4.57.6-torch2.13.0.json").read_bytes()
    results = tmp_path / "fresh"
    with serve_index(answer) as index:
        run = subprocess.run([sys.executable, "-m", "kvmatrix.run.cell_cli", "--pair", "tf4.57.6-torch2.13.0",
                              "--envs", str(tmp_path / "envs"), "--results", str(results)],
                             cwd=ROOT, env=only_index_env(index.url), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    record = json.loads((results / "tf4.57.6-torch2.13.0.json").read_text())
    assert record["status"] == "infra", record["status_reason"]
    assert "Received some unexpected JSON from" in record["status_reason"]
    assert record["install_duration_s"] >= 5, "installed once: not retried"
    proc = nox_publish(pins_file, results, reports)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cell,) = [c for c in json.loads((reports / "matrix.json").read_text())["cells"] if c["id"] == record["id"]]
    (old,) = [c for c in before["cells"] if c["id"] == record["id"]]
    assert cell["latest_attempt"] == {"status": "infra", "reason": record["status_reason"]}
    assert {key: value for key, value in cell.items() if key != "latest_attempt"} == old
    assert (reports / "cells" / "tf4.57.6-torch2.13.0.json").read_bytes() == detail_before


def _first_test(record: dict[str, Any]) -> dict[str, Any]:
    return record["runs"]["with"]["tests"][0]


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda r: r["runs"].update({"with": []}), "runs.with is an array, not dict"),
        (lambda r: r["runs"]["with"]["tests"].__setitem__(0, 5), "runs.with.tests[0] is a number, not dict"),
        (lambda r: r["metrics"].update({"export_s": 5}), "metrics.export_s is a number, not dict"),
        (lambda r: _first_test(r).update({"name": 5}), "runs.with.tests[0].name is a number, not str"),
        (lambda r: _first_test(r).update({"verdict": "great"}), "runs.with.tests[0].verdict 'great' is not one of"),
    ],
    ids=["run an array", "test a number", "export_s a number", "test name a number", "unknown verdict"],
)
def test_publish_of_a_result_with_a_wrong_type_below_its_keys_is_one_line_naming_the_file_and_field(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], one_result: Path,
    damage: Callable[[dict[str, Any]], None], problem: str
) -> None:
    """Issue 31 item 6 through `nox -s publish` (tests/kvmatrix/publish/test_publish_run_refusals.py calls publish() itself):
    these reached rederive, the metrics table or the Markdown renderer and ended the publish in a traceback."""
    reports = tmp_path / "reports"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    published = published_tree(reports)
    damage(ran_cell)
    result = one_result / f"{ran_cell['id']}.json"
    result.write_text(json.dumps(ran_cell))
    one_clear_error(nox_publish(pins_file, one_result, reports), f"{result}: {problem}",
                    f"refusing to publish it as cell {ran_cell['id']}")
    assert published_tree(reports) == published


def renewed(ran_cell: dict[str, Any], results: Path) -> None:
    """Write a result of `ran_cell` that differs from the published one (its duration), so a publish has
    something new to switch."""
    (results / f"{ran_cell['id']}.json").write_text(json.dumps({**ran_cell, "duration_s": ran_cell["duration_s"] + 1}))


def test_publish_replaces_a_linked_file_of_the_set_and_deletes_a_stale_link_never_what_they_point_to(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], one_result: Path
) -> None:
    """Issue 31 item 12 through `nox -s publish` (tests/kvmatrix/publish/test_report_set.py calls publish() itself): a
    file of the set that is a symbolic link was written through, and a stale detail file that is one deleted
    its target outside the folder."""
    reports, outside = tmp_path / "reports", tmp_path / "outside"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    outside.mkdir()
    (outside / "notes.md").write_text("mine")
    (outside / "kept.json").write_text("{}")
    (reports / "matrix.md").unlink()
    (reports / "matrix.md").symlink_to(outside / "notes.md")
    stale = reports / "cells" / "tf4.46.3-torch2.5.1.json"  # a cell of the pins that the matrix does not hold
    stale.symlink_to(outside / "kept.json")
    renewed(ran_cell, one_result)
    proc = nox_publish(pins_file, one_result, reports)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (outside / "notes.md").read_text() == "mine" and (outside / "kept.json").read_text() == "{}"
    assert not (reports / "matrix.md").is_symlink() and (reports / "matrix.md").stat().st_mode & 0o777 == 0o644
    assert "tf4.57.6-torch2.13.0" in (reports / "matrix.md").read_text()
    assert not stale.is_symlink() and not stale.exists()


def test_publish_where_a_folder_of_the_set_is_a_symbolic_link_is_one_line_and_writes_nothing_through_it(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], one_result: Path
) -> None:
    """Issue 31 item 12 through `nox -s publish`: `cells/` linked elsewhere."""
    reports, outside = tmp_path / "reports", tmp_path / "outside"
    first = nox_publish(pins_file, one_result, reports)
    assert first.returncode == 0, first.stdout + first.stderr
    shutil.move(reports / "cells", outside)
    (reports / "cells").symlink_to(outside)
    before, published = published_tree(outside), published_tree(reports)
    renewed(ran_cell, one_result)
    one_clear_error(nox_publish(pins_file, one_result, reports),
                    f"cannot write the reports in {reports}: cells is a symbolic link, and a publish writes no "
                    "file through one; the published reports are unchanged")
    assert published_tree(outside) == before and published_tree(reports) == published
    assert not (reports / ".staging").exists()


def other_file_system(path: Path) -> Path | None:
    """A writable folder on another file system than `path` (/dev/shm is a tmpfs on Linux), or None."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and os.stat(shm).st_dev != os.stat(path).st_dev:
        return shm
    return None


def test_publish_into_reports_on_another_file_system_than_the_readme_is_refused_before_anything_is_written(
    tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], one_result: Path
) -> None:
    """Issue 31 item 13 through `nox -s publish`: the README is written only with the committed reports/, so
    the publish runs in a copy of the checkout whose reports/ is a link to a folder on another file system
    (as a mount would be; the noxfile resolves links, so it is still the committed folder). os.replace could
    not move the README's staged file, so the set was switched half, with a message promising that the next
    publish would complete it."""
    elsewhere = other_file_system(tmp_path)
    if elsewhere is None:
        pytest.skip("no second file system to put the reports on")
    checkout = checkout_copy(tmp_path / "repo")
    first = nox_publish_committed(checkout, pins_file, one_result)
    assert first.returncode == 0, first.stdout + first.stderr
    readme, verified = checkout / "README.md", checkout / "compat" / "verified.json"
    generated = json.loads((checkout / "reports" / "matrix.json").read_text())["generated_at"]
    assert f"Generated at {generated}" in readme.read_text()  # the README is published with this folder
    with tempfile.TemporaryDirectory(dir=elsewhere) as folder:
        moved = Path(folder) / "reports"
        shutil.copytree(checkout / "reports", moved, symlinks=True)
        shutil.rmtree(checkout / "reports")
        (checkout / "reports").symlink_to(moved)
        before = (published_tree(moved), readme.read_bytes(), verified.read_bytes())
        renewed(ran_cell, one_result)
        one_clear_error(nox_publish_committed(checkout, pins_file, one_result), "cannot write the reports in reports: ",
                        f"{readme} is on another file system than the reports",
                        "the published reports are unchanged")
        assert (published_tree(moved), readme.read_bytes(), verified.read_bytes()) == before
        assert not (moved / ".staging").exists()


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
@pytest.mark.parametrize("value", HOSTILE)
def test_nox_publish_of_hostile_causes_metrics_and_generation_time_keeps_them_text_in_matrix_md_and_the_readme(
    value: str, tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], make_cell: Callable[..., dict[str, Any]]
) -> None:
    """Issue 31 items 3 and 9 through `nox -s publish` into the committed reports/ of a copy of the checkout
    (the README is published only with that folder): a fresh result whose every free text, a use's cause and
    upstream issue (the by-use chips) and a compiled loop's name and metrics (the Metrics section) included, is
    `value`, published over a matrix.json whose `generated_at` is `value` (the changes section). The README's
    table (what to pin, kvmatrix.render.readme) holds no cause: it must keep its markers and rows."""
    root, results = checkout_copy(tmp_path / "repo"), tmp_path / "cells"
    write_result(results, ran_cell)
    first = nox_publish_committed(root, pins_file, results)
    assert first.returncode == 0, first.stdout + first.stderr
    matrix_path = root / "reports" / "matrix.json"
    matrix_path.write_text(json.dumps({**json.loads(matrix_path.read_text()), "generated_at": value}))
    hostile = hostile_cell(value)
    suite, name = USE_TEST.split("::")
    for run in hostile["runs"].values():  # the use's test fails in both modes: its chip shows cause and upstream
        run["tests"].append({"suite": suite, "name": name, "verdict": "fail", "duration_s": 0.5, "reason": None,
                             "error": "AssertionError: boom", "cause": value, "upstream": value})
    write_result(results, hostile)
    proc = nox_publish_committed(root, pins_file, results)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    markdown = (root / "reports" / "matrix.md").read_text()
    shown = markdown_text(value)
    assert " | ".join([shown] * len(METRICS)) in markdown  # the loop's metrics, as text
    assert shown in markdown.partition("## By use")[2].partition("\n## ")[0]  # the chip's cause, as text
    assert_tables_keep_their_cells(markdown)
    compared = next(line for line in markdown.splitlines() if line.startswith("Compared with the matrix generated"))
    assert "<" not in compared and not UNESCAPED_BRACKET.search(compared) and "`" not in compared.replace("\\`", "")
    readme = (root / "README.md").read_text()
    assert readme.count(README_START) == 1 and readme.count(README_END) == 1
    embedded = readme.partition(README_START)[2].partition(README_END)[0]
    assert "<" not in embedded
    assert_tables_keep_their_cells(embedded)
