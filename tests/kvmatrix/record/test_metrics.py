"""Per-cell metrics are gathered from the tests' recorded numbers and shown in matrix.md."""

from __future__ import annotations

from kvmatrix.record.metrics import cell_metrics
from kvmatrix.render.metrics import render_metrics


def a_test(name: str, suite: str, metrics: dict) -> dict:
    return {"suite": suite, "name": name, "verdict": "pass", "duration_s": 1.0, "reason": None,
            "error": None, "metrics": metrics}


RUNS = {
    "with": {"tests": [
        a_test("test_decode_step_exports_and_matches_eager[a]", "export", {"export_s": 1.0}),
        a_test("test_decode_step_exports_and_matches_eager[b]", "export", {"export_s": 3.0}),
        a_test("test_decode_step_exports_and_matches_eager[c]", "export", {"export_s": 2.0}),
        a_test("test_static_cache_decode_loop_compiles_once", "compile",
             {"backend": "inductor", "compile_s": 7.5, "recompiles_after_first_step": 0, "graph_breaks": 0,
              "eager_tokens_per_s": 40.0, "compiled_tokens_per_s": 50.0}),
    ]},
    "without": {"tests": [a_test("test_decode_step_exports_and_matches_eager[a]", "export", {"export_s": 99.0})]},
}


def test_metrics_come_from_the_run_with_registration() -> None:
    metrics = cell_metrics(RUNS)
    assert metrics["export_s"] == {"median": 2.0, "max": 3.0, "n": 3}
    loop = metrics["compile"]["test_static_cache_decode_loop_compiles_once"]
    assert loop["compile_s"] == 7.5 and loop["compiled_tokens_per_s"] == 50.0
    assert loop["backend"] == "inductor"  # aot_eager and inductor seconds must not be compared unlabelled


def test_a_cell_without_numbers_has_empty_metrics() -> None:
    assert cell_metrics({}) == {"compile": {}}


def test_metrics_section_has_a_row_per_compiled_loop_with_its_backend() -> None:
    matrix = {"cells": [{"id": "tf4.57.6-torch2.13.0", "metrics": cell_metrics(RUNS)},
                        {"id": "tf4.46.3-torch2.5.1", "metrics": {}}]}
    text = render_metrics(matrix)
    assert "| tf4.57.6-torch2.13.0 | 2.0 (3) | static\\_cache | inductor | 7.5 | 0 | 0 | 40.0 | 50.0 |" in text
    assert "| tf4.46.3-torch2.5.1 | — | — | — | — | — | — | — | — |" in text
