"""kvmatrix.record.metrics: per-cell metrics are gathered from the tests' recorded numbers (matrix.md shows
them: tests/kvmatrix/render/test_metrics.py)."""

from __future__ import annotations

from kvmatrix.record.metrics import cell_metrics
from tests.support.records import METRIC_RUNS as RUNS


def test_metrics_come_from_the_run_with_registration() -> None:
    metrics = cell_metrics(RUNS)
    assert metrics["export_s"] == {"median": 2.0, "max": 3.0, "n": 3}
    loop = metrics["compile"]["test_static_cache_decode_loop_compiles_once"]
    assert loop["compile_s"] == 7.5 and loop["compiled_tokens_per_s"] == 50.0
    assert loop["backend"] == "inductor"  # aot_eager and inductor seconds must not be compared unlabelled


def test_a_cell_without_numbers_has_empty_metrics() -> None:
    assert cell_metrics({}) == {"compile": {}}
