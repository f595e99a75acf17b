"""kvmatrix.render.markdown: matrix.md rendered from matrix.json and its detail files (the table, the legend,
the compat regressions, the failures grouped by cause and signature, the registration report), and its
command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.record.answers import uses_document
from kvmatrix.record.detail import split
from kvmatrix.record.matrix import new_matrix
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import main, render_markdown
from kvmatrix.render.page_data import page_detail
from tests.support.markdown import section
from tests.support.records import GENERATED_AT, write_published

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def both(pins: Pins, ran_cell: dict, uninstallable_cell: dict, published) -> tuple[dict, dict]:
    """The matrix of the fixture's two cells and their details."""
    return published(pins, [ran_cell, uninstallable_cell], GENERATED_AT)


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
