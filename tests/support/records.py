"""The one builder of cell records for the tests: full cell records built as in docs/matrix-schema.md (and
test records as the in-cell recorder writes them), a small pins file, and the matrix and detail files
publish makes of them. tests/conftest.py serves them as fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvmatrix.files import json_text, write_text_atomic
from kvmatrix.plan.pins import Pins
from kvmatrix.record.detail import split
from kvmatrix.record.matrix import matrix_text, new_matrix
from kvmatrix.record.metrics import cell_metrics
from kvmatrix.record.verdicts import RAN, summarize_suites

SUITES = ["export", "roundtrip", "compile"]

PINS_TOML = """\
schema_version = 1
python = "3.11"

[[cell]]
transformers = "4.46.3"
torch = "2.5.1"
note = "list-based"

[[cell]]
transformers = "4.57.6"
torch = "2.13.0"
note = "layer-based on the newest torch"
tags = ["smoke"]

[[cell]]
transformers = "5.24.0"
torch = "2.13.0"
"""


def record(suite: str, name: str, verdict: str, error: str | None = None, reason: str | None = None,
           duration_s: float = 0.5) -> dict:
    """One test record as the in-cell recorder writes it."""
    return {
        "suite": suite, "name": name, "verdict": verdict, "duration_s": duration_s, "reason": reason, "error": error,
    }


def build_cell(
    transformers: str,
    torch: str,
    runs: dict[str, Any],
    status: str = RAN,
    status_reason: str | None = None,
    registration_report: list[dict[str, Any]] | None = None,
    suites: list[str] = SUITES,
    **fields: Any,
) -> dict[str, Any]:
    """A full cell record as a cell run writes it; `suites` and `metrics` come from `runs` (summarised with
    the columns `suites`). `fields` replace the built value of those keys (every key must be one the record
    has)."""
    cell_id = f"tf{transformers}-torch{torch}"
    ran = status == RAN
    cell = {
        "id": cell_id,
        "pins": {"transformers": transformers, "torch": torch},
        "note": "",
        "tags": [],
        "status": status,
        "status_reason": status_reason,
        "python": "3.11.7" if ran else None,
        "resolved": {"torch": f"{torch}+cpu", "transformers": transformers} if ran else {},
        "freeze": [f"torch=={torch}+cpu", f"transformers=={transformers}"] if ran else [],
        "layout": "layer" if ran else None,
        "static_layer_init": "lazy(key)" if ran else None,
        "registration_report": registration_report or [],
        "compat_regressions": [],
        "runs": runs,
        "suites": summarize_suites(runs, suites, status),
        "metrics": cell_metrics(runs),
        "repro": f"nox -s 'cell({cell_id})'",
        "install_duration_s": 1.2,
        "duration_s": 95.4 if ran else 0.0,
    }
    unknown = set(fields) - set(cell)
    assert not unknown, f"not keys of a cell record: {sorted(unknown)}"
    return {**cell, **fields}


def mode_runs(tests: list[dict[str, Any]], exit_code: int = 0, duration_s: float = 1.0) -> dict[str, Any]:
    """`runs` of a cell whose `with` and `without` runs both recorded `tests`."""
    return {mode: {"exit_code": exit_code, "duration_s": duration_s, "log_tail": "", "tests": tests}
            for mode in ("with", "without")}


def example_runs() -> dict[str, Any]:
    """Export passes only with registration; roundtrip passes in both modes; compile is xfail in both."""
    leak = "TypeError: cannot flatten DynamicCache object at 0x7f3a2b1c0d10 (layer {n})"
    xfail = "known: torch.compile graph break on DynamicLayer.update (pytorch#123)"
    shared = [
        record("roundtrip", "test_roundtrip[DynamicCache]", "pass"),
        record("compile", "test_compile_decode[DynamicCache]", "xfail", error=xfail, reason=xfail),
    ]
    with_ = [
        record("export", "test_export[DynamicCache-strict]", "pass"),
        record("export", "test_export[DynamicCache-nonstrict]", "pass"),
        record("export", "test_export[StaticCache-strict]", "pass"),
        *shared,
    ]
    without = [
        record("export", "test_export[DynamicCache-strict]", "fail", error=leak.format(n=0)),
        record("export", "test_export[DynamicCache-nonstrict]", "fail",
               error=leak.format(n=1).replace("0x7f3a2b1c0d10", "0x55d0e4a1b2c0")),
        record("export", "test_export[StaticCache-strict]", "pass"),
        *shared,
    ]
    return {
        "with": {"exit_code": 0, "duration_s": 40.0, "log_tail": "", "tests": with_},
        "without": {"exit_code": 1, "duration_s": 41.0, "log_tail": "", "tests": without},
    }


RAN_CELL_ID = "tf4.57.6-torch2.13.0"
"""The id of the `ran_cell` fixture, the second cell of PINS_TOML."""

REGISTRATION_REPORT = [
    {"class": "DynamicCache", "status": "registered", "owner": "compat", "reason": None},
    {"class": "StaticCache", "status": "already-registered", "owner": "transformers.integrations",
     "reason": None},
    {"class": "OffloadedCache", "status": "unsupported", "owner": None, "reason": "needs torch | newer"},
]


FROZEN_DETAIL = {"schema_version": 3, "id": "tf4.57.6-torch2.13.0", "freeze": ["torch==2.13.0+cpu", "six==1.16.0"],
                 "torch_build": "cpu", "runs": {}}
"""A cell's detail file as far as replaying its run reads it: the freeze."""


GENERATED_AT = "2026-11-25T10:00:00Z"
"""When the fixture matrices were generated."""

Published = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def publish_records(pins: Pins, records: list[dict[str, Any]], generated_at: str = GENERATED_AT,
                    suites: list[str] = SUITES) -> Published:
    """(the matrix, the details by cell id) of full cell `records`, split as publish splits them."""
    halves = [split(record) for record in records]
    matrix = new_matrix(pins, [summary for summary, _ in halves], generated_at, suites=suites)
    return matrix, {detail["id"]: detail for _, detail in halves}


def inputs(resolved: list[str], **clients: list[str] | str) -> dict[str, object]:
    """A cell's inputs (kvmatrix.run.inputs) as far as a refresh reads them: the resolved sets."""
    return {"key": "k", "parts": {"resolved": resolved, "clients": clients}}


def write_published(folder: Path, matrix: dict, details: dict) -> Path:
    """matrix.json and cells/<id>.json in `folder`, as publish writes them; returns the matrix path."""
    for cell_id, detail in details.items():
        write_text_atomic(folder / "cells" / f"{cell_id}.json", json_text(detail))
    write_text_atomic(folder / "matrix.json", matrix_text(matrix))
    return folder / "matrix.json"


def measured(suite: str, name: str, metrics: dict) -> dict:
    """A passing test record that recorded `metrics`."""
    return {**record(suite, name, "pass", duration_s=1.0), "metrics": metrics}


METRIC_RUNS = {
    "with": {"tests": [
        measured("export", "test_decode_step_exports_and_matches_eager[a]", {"export_s": 1.0}),
        measured("export", "test_decode_step_exports_and_matches_eager[b]", {"export_s": 3.0}),
        measured("export", "test_decode_step_exports_and_matches_eager[c]", {"export_s": 2.0}),
        measured("compile", "test_static_cache_decode_loop_compiles_once",
                 {"backend": "inductor", "compile_s": 7.5, "recompiles_after_first_step": 0, "graph_breaks": 0,
                  "eager_tokens_per_s": 40.0, "compiled_tokens_per_s": 50.0}),
    ]},
    "without": {"tests": [measured("export", "test_decode_step_exports_and_matches_eager[a]", {"export_s": 99.0})]},
}
"""Runs whose tests recorded numbers: three exports and a compiled loop with registration, one export without."""


FAMILY_OUTCOMES = {
    "llama": {"wrapper": ("pass", "pass"), "dynamic": ("pass", "pass"), "static": ("pass", "pass")},
    "qwen3": {"wrapper": ("pass", "fail"), "dynamic": ("fail", "fail"), "static": ("pass", "fail")},
    "gemma": {"wrapper": ("fail", "fail"), "dynamic": ("fail", "fail"), "static": ("fail", "fail")},
    "phi3": {"wrapper": ("n/a", "n/a"), "dynamic": ("pass", "pass"), "static": ("n/a", "n/a")},
    "smollm3": {"wrapper": ("n/a", "n/a"), "dynamic": ("n/a", "n/a"), "static": ("n/a", "n/a")},
}
"""The verdicts (with compat, without) of the family tests of `family_tests`, per family and test: llama works
with transformers alone, qwen3 only with compat, gemma nowhere, phi3 by its DynamicCache step alone, smollm3 has
none (all n/a); the other families did not run."""
FAMILY_TESTS = {"wrapper": "test_family_wrapper_decodes_like_eager",
                "dynamic": "test_family_dynamic_cache_step_exports_like_eager",
                "static": "test_family_static_cache_loop_compiles_like_eager"}
"""suites/test_families.py's three tests, by the short names of FAMILY_OUTCOMES."""


def family_tests(mode: str) -> list[dict[str, Any]]:
    """The records of the `families` suite's tests in the run of `mode` ("with", "without"), as
    FAMILY_OUTCOMES gives them; a failure's cause is `cache`, an n/a is skipped as suites/test_families.py
    skips it."""
    at = 0 if mode == "with" else 1
    found = []
    for family, outcomes in FAMILY_OUTCOMES.items():
        for short, verdicts in outcomes.items():
            verdict = verdicts[at]
            test = record("families", f"{FAMILY_TESTS[short]}[{family}]", verdict,
                          error=f"AssertionError: {family} logits differ from eager" if verdict == "fail" else None,
                          reason=f"n/a: {family} has no such route" if verdict == "n/a" else None)
            found.append({**test, "cause": "cache"} if verdict == "fail" else test)
    return found


def family_cells() -> list[dict[str, Any]]:
    """Cell records of PINS_TOML's three pairs for the model family answers: tf4.57.6 ran the family tests
    (FAMILY_OUTCOMES) beside one export test, tf4.46.3 ran that export test alone, tf5.24.0 did not install.
    Their suite columns are `export` and `families`."""
    suites = ["export", "families"]
    export = [record("export", "test_export[DynamicCache-strict]", "pass")]
    runs = mode_runs(export)
    for mode, run in runs.items():
        run["tests"] = [*export, *family_tests(mode)]
    return [build_cell("4.46.3", "2.5.1", mode_runs(export), suites=suites),
            build_cell("4.57.6", "2.13.0", runs, suites=suites),
            build_cell("5.24.0", "2.13.0", {}, status="not-installable", status_reason="no wheel", suites=suites)]
