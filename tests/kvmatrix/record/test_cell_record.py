"""kvmatrix.record.cell_record.build_record: the `compat` cause, the cell's `compat_regressions` and `static_layer_init`,
from the two registration runs of a cell, its suites summarised with the given columns, and no absolute
path of the machine in it."""

from __future__ import annotations

from typing import Any

from kvmatrix.plan.pins import Cell
from kvmatrix.record.cell_record import InstallOutcome, build_record
from kvmatrix.record.detail import join, split

CELL = Cell(transformers="4.55.4", torch="2.8.0")
META = {
    "python": "3.11.7",
    "versions": {"torch": "2.8.0+cpu"},
    "layout": "layer",
    "static_layer_init": "lazy(key)",
}


def record(name: str, verdict: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
    return {
        "suite": "export",
        "name": name,
        "verdict": verdict,
        "duration_s": 0.1,
        "reason": None,
        "error": error,
        "cause": cause,
        "cause_detail": None,
        "upstream": None,
        "reruns": [],
    }


def runs(with_: list[dict[str, Any]], without: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        mode: {"exit_code": 1, "duration_s": 1.0, "log_tail": "", "tests": tests, "meta": META}
        for mode, tests in (("with", with_), ("without", without))
    }


def built(cell_runs: dict[str, Any], suites: tuple[str, ...] = ("export",)) -> dict[str, Any]:
    return build_record(CELL, InstallOutcome("ran"), [], cell_runs, 1.0, list(suites))


def test_a_test_passing_only_without_registration_is_a_compat_regression_with_cause_compat() -> None:
    error = "UnsupportedState: StaticCache was never flattened outside tracing"
    cell = built(
        runs(
            [
                record("test_wrapper[nonstrict]", "fail", error, cause="cache"),
                record("test_step", "pass"),
                record("test_unflatten", "xfail", "known", cause="not-cache"),
                record("test_crash", "error", "segfault"),
            ],
            [
                record("test_wrapper[nonstrict]", "pass"),
                record("test_step", "pass"),
                record("test_unflatten", "pass"),
                record("test_crash", "pass"),
            ],
        )
    )
    assert cell["compat_regressions"] == [
        {"suite": "export", "name": "test_wrapper[nonstrict]", "verdict": "fail", "error": error},
        {"suite": "export", "name": "test_unflatten", "verdict": "xfail", "error": "known"},
        {"suite": "export", "name": "test_crash", "verdict": "error", "error": "segfault"},
    ]
    with_tests = {t["name"]: t for t in cell["runs"]["with"]["tests"]}
    assert with_tests["test_wrapper[nonstrict]"]["cause"] == "compat"
    assert with_tests["test_wrapper[nonstrict]"]["cause_detail"] == (
        "passes with transformers alone; fails after compat.register()"
    )
    assert with_tests["test_step"]["cause"] is None


def test_failing_in_both_modes_flaky_and_setup_are_not_compat_regressions() -> None:
    cell = built(
        runs(
            [
                record("test_both", "fail", "x", cause="not-cache"),
                record("test_flaky", "flaky", "y"),
                record("test_setup", "setup", "z", cause="setup"),
            ],
            [record("test_both", "fail", "x"), record("test_flaky", "pass"), record("test_setup", "pass")],
        )
    )
    assert cell["compat_regressions"] == []
    assert [t["cause"] for t in cell["runs"]["with"]["tests"]] == ["not-cache", None, "setup"]


def test_the_static_layer_init_style_comes_from_the_runs_description() -> None:
    assert (
        built(runs([record("test_step", "pass")], [record("test_step", "pass")]))["static_layer_init"]
        == "lazy(key)"
    )


def test_a_cell_that_did_not_run_has_no_regression_and_no_init_style() -> None:
    cell = build_record(CELL, InstallOutcome("not-installable", "no wheel"), [], {}, 1.0, ["export"])
    assert (cell["compat_regressions"], cell["static_layer_init"]) == ([], None)


def test_the_suites_are_the_columns_given_each_summarised_from_the_runs() -> None:
    cell = built(runs([record("test_step", "pass")], [record("test_step", "fail", "x")]), ("export", "x"))
    verdicts = {suite: {mode: summary["verdict"] for mode, summary in modes.items()}
                for suite, modes in cell["suites"].items()}
    assert verdicts == {
        "export": {"with": "pass", "without": "fail"},
        "x": {"with": "error", "without": "error"},  # no test of that suite ran
    }


def test_the_record_shows_paths_relative_to_the_environment_and_the_checkout() -> None:
    checkout = "/home/runner/work/kv-cache-compat/kv-cache-compat"
    site = f"{checkout}/.nox/cell-x/lib/python3.11/site-packages"
    failing = record("test_step", "fail", f'File "{checkout}/suites/test_export.py", line 3: AssertionError')
    cell_runs = runs([failing], [record("test_step", "pass")])
    cell_runs["with"]["log_tail"] = f"{site}/torch/fx/graph.py:1586: UserWarning"
    cell = built(cell_runs)
    assert cell["runs"]["with"]["log_tail"] == "site-packages/torch/fx/graph.py:1586: UserWarning"
    assert cell["compat_regressions"][0]["error"] == 'File "suites/test_export.py", line 3: AssertionError'


def test_the_record_says_which_torch_build_ran_and_its_detail_keeps_it() -> None:
    frozen = ["nvidia-cuda-runtime-cu12==12.8.90", "torch==2.8.0", "transformers==4.55.4"]
    cell = build_record(CELL, InstallOutcome("ran"), frozen, runs([record("t", "pass")], []), 1.0, ["export"])
    assert cell["torch_build"] == "cuda 12.8"
    summary, detail = split(cell)
    assert detail["torch_build"] == "cuda 12.8" and "torch_build" not in summary
    assert join(summary, detail) == cell


def test_a_cell_that_installed_nothing_has_no_torch_build() -> None:
    assert build_record(CELL, InstallOutcome("not-installable", "no solution"), [], {}, 1.0, ["export"])[
        "torch_build"] is None


def test_the_record_keeps_the_index_snapshot_it_installed_as_of_in_its_detail() -> None:
    dated = Cell(transformers="4.55.4", torch="2.8.0", snapshot="2026-12-07T02:00:00Z")
    cell = build_record(dated, InstallOutcome("ran"), [], runs([record("t", "pass")], []), 1.0, ["export"])
    summary, detail = split(cell)
    assert detail["index_snapshot"] == "2026-12-07T02:00:00Z" and "index_snapshot" not in summary
    assert join(summary, detail)["index_snapshot"] == "2026-12-07T02:00:00Z"
    assert built(runs([record("t", "pass")], []))["index_snapshot"] is None
