"""The sample matrix of the browser tests, with its cells' details: three pairs and the changes since a
previous run."""

from __future__ import annotations

import copy
from typing import Any

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.publish.history import diff
from kvmatrix.record.verdicts import summarize_suites
from tests.support.records import build_cell, publish_records

SUITES = ["export", "roundtrip", "compile"]
LIST_MODULE = Cell(transformers="4.46.3", torch="2.5.1", note="list-based")
LAYER = Cell(transformers="4.57.6", torch="2.13.0", note="layer-based", tags=("smoke",))
UNINSTALLABLE = Cell(transformers="5.24.0", torch="2.13.0")
PINS = Pins(python="3.11", cells=(LIST_MODULE, LAYER, UNINSTALLABLE), path="pins.toml")
EXPORT_ERROR = "TypeError: cannot flatten DynamicCache <img src=x onerror=window.__pwned=1>"
CAUSE_DETAIL = "without a cache the same export fails too: <b>AssertionError</b>"
UPSTREAM = "pytorch/pytorch#152465"


def make_test(
    suite: str, name: str, verdict: str, error: str | None = None, **metrics: Any
) -> dict[str, Any]:
    return {
        "suite": suite,
        "name": name,
        "verdict": verdict,
        "duration_s": 1.25,
        "reason": None,
        "error": error,
        "metrics": metrics,
    }


def ran(cell: Cell, layout: str, runs: dict[str, Any], suites: list[str] = SUITES) -> dict[str, Any]:
    """A ran cell record of `cell` with `runs` summarised in the columns `suites`, its `layout`, and metrics of
    its own."""
    return build_cell(
        cell.transformers, cell.torch, runs, suites=suites, **cell.to_json(),
        freeze=[f"torch=={cell.torch}+cpu", f"transformers=={cell.transformers}", "numpy==2.4.6"],
        layout=layout,
        static_layer_init="lazy(key)" if layout == "layer" else "absent",
        registration_report=[{"class": "DynamicCache", "status": "registered", "owner": "compat", "reason": None}],
        metrics={"export_s": {"median": 1.5, "max": 2.25, "n": 7}, "compile": {
            "test_decode_loop_compiles_once": {"compile_s": 7.5, "graphs_first_step": 1,
                                               "recompiles_after_first_step": 0}}},
        install_duration_s=3.5,
        duration_s=61.0,
    )


def runs_of(without_export: dict[str, Any]) -> dict[str, Any]:
    shared = [
        make_test("roundtrip", "test_roundtrip[DynamicCache]", "pass"),
        make_test(
            "compile",
            "test_decode_loop_compiles_once",
            "pass",
            compile_s=7.5,
            graphs_first_step=1,
            recompiles_after_first_step=0,
        ),
    ]
    with_ = [make_test("export", "test_export[DynamicCache-strict]", "pass"), *shared]
    without = [without_export, *shared]
    return {
        "with": {"exit_code": 0, "duration_s": 30.0, "log_tail": "1 passed", "tests": with_},
        "without": {"exit_code": 1, "duration_s": 31.0, "log_tail": "1 failed", "tests": without},
    }


def sample_records() -> list[dict[str, Any]]:
    """The full records of three pairs: list-module (export fails without registration, cause not-cache with
    an upstream issue, re-run once), layer (all pass), not-installable."""
    failing = {
        **make_test("export", "test_export[DynamicCache-strict]", "fail", error=EXPORT_ERROR),
        "cause": "not-cache", "cause_detail": CAUSE_DETAIL, "upstream": UPSTREAM, "reruns": ["fail"],
    }
    return [
        ran(LIST_MODULE, "list-module", runs_of(failing)),
        ran(LAYER, "layer", runs_of(make_test("export", "test_export[DynamicCache-strict]", "pass"))),
        build_cell(UNINSTALLABLE.transformers, UNINSTALLABLE.torch, {}, status="not-installable",
                   status_reason="No solution found when resolving: torch==2.13.0 needs python>=3.12",
                   suites=SUITES, **UNINSTALLABLE.to_json(), install_duration_s=1.0, duration_s=1.0),
    ]


def published(records: list[dict[str, Any]], generated_at: str,
              suites: list[str] = SUITES) -> tuple[dict[str, Any], dict[str, Any]]:
    """(matrix, details by cell id) of full `records` of PINS with the columns `suites`, split as publish splits
    them."""
    return publish_records(PINS, records, generated_at, suites)


def sample_matrix(records: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(matrix, details) of `records` (default `sample_records()`), with the changes since a previous run in
    which the list-module pair's export passed without registration."""
    records = records or sample_records()
    current, details = published(records, "2026-11-25T10:00:00Z")
    before = copy.deepcopy(records)
    before[0]["runs"]["without"]["tests"][0].update(verdict="pass", error=None)
    before[0]["suites"] = summarize_suites(before[0]["runs"], SUITES, "ran")
    current["changes"] = diff(published(before, "2026-11-24T10:00:00Z")[0], current, details)
    return current, details
