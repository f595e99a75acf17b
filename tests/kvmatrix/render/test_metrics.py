"""kvmatrix.render.metrics: matrix.md's metrics section, a row per compiled loop with its backend."""

from __future__ import annotations

from kvmatrix.record.metrics import cell_metrics
from kvmatrix.render.metrics import render_metrics
from tests.support.records import METRIC_RUNS as RUNS


def test_metrics_section_has_a_row_per_compiled_loop_with_its_backend() -> None:
    matrix = {"cells": [{"id": "tf4.57.6-torch2.13.0", "metrics": cell_metrics(RUNS)},
                        {"id": "tf4.46.3-torch2.5.1", "metrics": {}}]}
    text = render_metrics(matrix)
    assert "| tf4.57.6-torch2.13.0 | 2.0 (3) | static\\_cache | inductor | 7.5 | 0 | 0 | 40.0 | 50.0 |" in text
    assert "| tf4.46.3-torch2.5.1 | — | — | — | — | — | — | — | — |" in text
