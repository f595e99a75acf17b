"""kvmatrix.render.markdown: building, atomically writing, reading, merging and rendering matrix.json and its detail
files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kvmatrix.files import json_text, write_json_atomic, write_text_atomic
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
from kvmatrix.record.paths import pins_file_name
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import main, render_markdown
from kvmatrix.render.page_data import page_detail

REPO = Path(__file__).resolve().parents[3]
GENERATED_AT = "2026-11-25T10:00:00Z"


def section(markdown: str, title: str) -> str:
    """The body of the `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(1)


@pytest.fixture
def both(pins: Pins, ran_cell: dict, uninstallable_cell: dict, published) -> tuple[dict, dict]:
    """The matrix of the fixture's two cells and their details."""
    return published(pins, [ran_cell, uninstallable_cell], GENERATED_AT)


def write_published(folder: Path, matrix: dict, details: dict) -> Path:
    """matrix.json and cells/<id>.json in `folder`, as publish writes them; returns the matrix path."""
    for cell_id, detail in details.items():
        write_text_atomic(folder / "cells" / f"{cell_id}.json", json_text(detail))
    write_text_atomic(folder / "matrix.json", matrix_text(matrix))
    return folder / "matrix.json"


def test_atomic_write_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "matrix.json"
    target.write_text("old")
    target.chmod(0o640)
    write_json_atomic(target, {"cells": ["✅"]})
    assert json.loads(target.read_text(encoding="utf-8")) == {"cells": ["✅"]}
    assert target.read_text(encoding="utf-8").endswith("\n")
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["matrix.json"]


def test_failed_atomic_write_keeps_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "matrix.md"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "a lone surrogate \ud800 cannot be encoded")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["matrix.md"]


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


def test_render_table_rows(matrix: dict, details: dict) -> None:
    markdown = render_markdown(matrix, details, uses_document(matrix))
    assert markdown.startswith("# KV-cache compatibility matrix\n")
    assert f"Generated at {GENERATED_AT}" in markdown
    table = section(markdown, "Matrix")
    assert "| transformers | torch | layout | StaticLayer init | export | roundtrip | compile |" in table
    row = ("| 4.57.6 | 2.13.0 | layer | lazy(key) | ✅ pass 3/3 / ❌ fail 1/3 | ✅ pass 1/1 / ✅ pass 1/1 "
           "| ⚠️ xfail 0/1 / ⚠️ xfail 0/1 |")
    assert row in table
    not_installable = "🚫 not-installable / 🚫 not-installable"
    assert f"| 4.46.3 | 2.5.1 | — | — | {not_installable} | {not_installable} | {not_installable} |" in table
    assert table.index("| 4.46.3 |") < table.index("| 4.57.6 |")


def test_render_legend(matrix: dict, details: dict) -> None:
    legend = section(render_markdown(matrix, details, uses_document(matrix)), "Legend")
    for label in ["✅ pass", "❌ fail", "🎲 flaky", "🧰 setup", "⚠️ xfail", "➖ n/a", "💥 error",
                  "🚫 not-installable", "🌐 infra"]:
        assert f"| {label} |" in legend


def test_the_legend_explains_every_cause(matrix: dict, details: dict) -> None:
    causes = section(render_markdown(matrix, details, uses_document(matrix)), "Legend").partition("### Causes")[2]
    assert "| cause | meaning |" in causes
    for cause in ["setup", "not-cache", "cache", "compat", "unattributed"]:
        assert f"| `{cause}` | " in causes


def test_compat_regressions_come_right_after_the_header_and_say_none_when_there_is_none(
    matrix: dict, details: dict
) -> None:
    markdown = render_markdown(matrix, details, uses_document(matrix))
    assert markdown.index("## compat regressions") < markdown.index("## Legend")
    assert section(markdown, "compat regressions").strip() == (
        "None: in every cell, every test that passes with transformers alone also passes with "
        "`compat.register()`."
    )


def test_compat_regressions_are_listed_per_cell_with_their_errors(matrix: dict, details: dict) -> None:
    matrix["cells"][1]["compat_regressions"] = [
        {"suite": "export", "name": "test_wrapper[StaticCache-nonstrict]", "verdict": "fail",
         "error": "UnsupportedState: StaticCache was never flattened outside tracing"},
        {"suite": "roundtrip", "name": "test_unflatten", "verdict": "error", "error": None},
    ]
    regressions = section(render_markdown(matrix, details, uses_document(matrix)), "compat regressions")
    assert (
        "- `tf4.57.6-torch2.13.0` (2 tests passing with transformers alone):\n"
        "  - export · `test_wrapper[StaticCache-nonstrict]`: ❌ fail with `compat.register()`: "
        "`UnsupportedState: StaticCache was never flattened outside tracing`\n"
        "  - roundtrip · `test_unflatten`: 💥 error with `compat.register()`: `no message recorded`"
    ) in regressions
    assert "None:" not in regressions and "tf4.46.3" not in regressions


def test_failures_show_each_groups_cause_detail_and_upstream_issue(matrix: dict, details: dict) -> None:
    tests = details["tf4.57.6-torch2.13.0"]["runs"]["without"]["tests"]
    for test in tests[:2]:
        test.update(cause="not-cache", cause_detail="without a cache the same export fails too",
                    upstream="pytorch/pytorch#152465")
    failures = section(render_markdown(matrix, details, uses_document(matrix)), "Failures")
    assert (
        "- ❌ fail · cause: not-cache (`without a cache the same export fails too`) · upstream "
        "[pytorch/pytorch#152465](https://github.com/pytorch/pytorch/issues/152465) (2 tests): "
        "`TypeError: cannot flatten DynamicCache object at 0x7f3a2b1c0d10 (layer 0)`"
    ) in failures


def test_failures_list_flaky_tests_with_their_rate_and_setup_tests(matrix: dict, details: dict) -> None:
    with_tests = details["tf4.57.6-torch2.13.0"]["runs"]["with"]["tests"]
    with_tests[0].update(
        verdict="flaky", error="AssertionError: mask", reruns=["pass", "fail", "pass", "pass"],
        reason="2/5 runs did not pass (fail 2, pass 3); first error: AssertionError: mask",
    )
    with_tests[1].update(verdict="setup", error="eager prefill failed: RuntimeError: size mismatch",
                         cause="setup", cause_detail="the eager prefill raised")
    failures = section(render_markdown(matrix, details, uses_document(matrix)), "Failures")
    assert (
        "- 🎲 flaky (1 test): `AssertionError: mask`\n"
        "  - export · `test_export[DynamicCache-strict]` (with: 2/5 runs did not pass (fail 2, pass 3))"
    ) in failures
    assert (
        "- 🧰 setup · cause: setup (`the eager prefill raised`) (1 test): "
        "`eager prefill failed: RuntimeError: size mismatch`\n"
        "  - export · `test_export[DynamicCache-nonstrict]` (with)"
    ) in failures
    order = [failures.index(label) for label in ("❌ fail", "🎲 flaky", "🧰 setup", "⚠️ xfail")]
    assert order == sorted(order)


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


def test_render_what_registration_adds(matrix: dict, details: dict) -> None:
    adds = section(render_markdown(matrix, details, uses_document(matrix)), "What registration adds")
    entries = [line for line in adds.splitlines() if line.startswith("- ")]
    assert entries == [
        (
            "- `tf4.57.6-torch2.13.0` · export: ✅ pass with registration (3 pass), "
            "❌ fail without (1 pass, 2 fail)"
        )
    ]


def test_render_failures_grouped_by_signature(matrix: dict, details: dict) -> None:
    failures = section(render_markdown(matrix, details, uses_document(matrix)), "Failures")
    cell = failures[failures.index("### tf4.57.6-torch2.13.0"):]
    assert "Repro: `nox -s 'cell(tf4.57.6-torch2.13.0)'`" in cell
    assert (
        "- ❌ fail (2 tests): `TypeError: cannot flatten DynamicCache object at 0x7f3a2b1c0d10 (layer 0)`\n"
        "  - export · `test_export[DynamicCache-strict]` (without)\n"
        "  - export · `test_export[DynamicCache-nonstrict]` (without)\n"
    ) in cell
    assert (
        "- ⚠️ xfail (1 test): `known: torch.compile graph break on DynamicLayer.update (pytorch#123)`\n"
        "  - compile · `test_compile_decode[DynamicCache]` (with, without)"
    ) in cell
    assert cell.index("❌ fail") < cell.index("⚠️ xfail")
    assert "test_export[StaticCache-strict]" not in cell
    uninstallable = failures[failures.index("### tf4.46.3-torch2.5.1"):failures.index("### tf4.57.6")]
    assert "**🚫 not-installable**: `ResolutionImpossible: transformers 4.46.3 requires" in uninstallable
    assert "Repro: `nox -s 'cell(tf4.46.3-torch2.5.1)'`" in uninstallable


def test_render_failures_reports_missing_runs_and_empty_suites(pins: Pins, make_cell, published) -> None:
    runs = {"with": {"exit_code": 4, "duration_s": 1.0, "log_tail": "", "tests": []}}
    matrix, details = published(pins, [make_cell("5.24.0", "2.13.0", runs)])
    markdown = render_markdown(matrix, details, uses_document(matrix))
    failures = section(markdown, "Failures")
    assert "- 💥 error: export reported no test in the `with` run (pytest exit: 4)" in failures
    assert "- 💥 error: no `without` run recorded" in failures
    assert "| 5.24.0 | 2.13.0 | layer | lazy(key) | 💥 error / 💥 error |" in section(markdown, "Matrix")


def test_render_registration_report(matrix: dict, details: dict) -> None:
    report = section(render_markdown(matrix, details, uses_document(matrix)), "Registration report")
    assert "| DynamicCache | registered | compat | — |" in report
    assert "| StaticCache | already-registered | transformers.integrations | — |" in report
    assert "| OffloadedCache | unsupported | — | needs torch \\| newer |" in report
    assert "No registration report (the cell did not run)." in report


def test_render_is_deterministic(matrix: dict, details: dict) -> None:
    again = json.loads(json.dumps([matrix, details, uses_document(matrix)]))
    assert render_markdown(matrix, details, uses_document(matrix)) == render_markdown(*again)


def test_cli_renders_matrix(tmp_path: Path, matrix: dict, details: dict) -> None:
    source, target = write_published(tmp_path, matrix, details), tmp_path / "matrix.md"
    subprocess.run(
        [sys.executable, "-m", "kvmatrix.render.markdown", "render", str(source), str(target)], cwd=REPO, check=True
    )
    assert target.read_text(encoding="utf-8") == render_markdown(matrix, details, uses_document(matrix))


def test_cli_reports_a_bad_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path / "absent.json"), str(tmp_path / "matrix.md")]) == 2
    assert "absent.json: matrix file not found" in capsys.readouterr().err
    assert not (tmp_path / "matrix.md").exists()


def test_a_reused_result_is_named_with_the_run_it_came_from(pins: Pins, ran_cell: dict) -> None:
    summary, detail = split({**ran_cell, "finished_at": "2026-11-30T22:14:05Z",
                             "reused_from": "2026-11-29T08:00:00Z"})
    matrix = new_matrix(pins, [summary], suites=["export", "roundtrip", "compile"])
    details = {detail["id"]: detail}
    assert ("- ♻️ `tf4.57.6-torch2.13.0`: reused from the run that finished at 2026-11-29T08:00:00Z (its inputs "
            "have not changed since)") in render_markdown(matrix, details, uses_document(matrix))
    assert page_detail(detail)["reused_from"] == "2026-11-29T08:00:00Z"
    fresh_summary, fresh_detail = split({**ran_cell, "finished_at": "2026-11-30T22:14:05Z", "reused_from": None})
    fresh = new_matrix(pins, [fresh_summary], suites=["export", "roundtrip", "compile"])
    assert "♻️" not in render_markdown(fresh, {fresh_detail["id"]: fresh_detail}, uses_document(fresh))


def test_the_planned_cells_not_run_are_named_in_the_markdown_and_the_page(matrix: dict, details: dict) -> None:
    header = render_markdown(matrix, details, uses_document(matrix)).split("\n## ")[0]
    assert "2 of the 3 cells planned by" in header and "these 1 have not run yet: `tf5.24.0-torch2.13.0`." in header
    page = render_page(matrix, details, uses_document(matrix))
    assert '<details id="not-run"><summary>2 of the 3 planned cells are published; 1 have not run yet' in page
    assert "<li><code>tf5.24.0-torch2.13.0</code></li>" in page
    del matrix["not_run"]
    assert "have not run yet" not in render_markdown(matrix, details, uses_document(matrix)) + render_page(matrix, details, uses_document(matrix))


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
