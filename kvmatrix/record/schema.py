"""The shape of `reports/matrix.json` and of its per-cell detail files (docs/matrix-schema.md): the schema
version both carry and the keys each level must have."""

from __future__ import annotations

SCHEMA_VERSION = 3
TOP_LEVEL_KEYS = ("schema_version", "generated_at", "pins_file", "suites", "cells")
OPTIONAL_TOP_LEVEL_KEYS = ("index_snapshot", "not_run")
"""Top-level keys a matrix has only in some cases, written after TOP_LEVEL_KEYS: `index_snapshot`, the time as
of which its pins file resolves every package (kvmatrix.plan.pins.Pins.snapshot; absent from matrices
published before snapshots existed); `not_run`, the ids of the cells
its pins plan that it does not publish (a partial run of the full grid on one machine; the workflow runs them
all), in plan order; absent when every planned cell is published."""
CELL_KEYS = (
    "id", "pins", "note", "tags", "status", "status_reason", "python", "resolved", "layout",
    "static_layer_init", "registration_report", "compat_regressions", "suites", "tests", "metrics", "repro",
    "install_duration_s", "duration_s", "detail",
)
"""A cell of matrix.json, in the order it is written."""
OPTIONAL_CELL_KEYS = ("clients", "tico_advantages", "compat_advantages", "latest_attempt")
"""Keys a cell of matrix.json has only in some cases, written after CELL_KEYS in this order: `clients`, the
outcome of each client suite's install and run, in cells recorded since the client suites exist;
`tico_advantages` and `compat_advantages`, in a cell with a run under TICO's registration
(kvmatrix.record.causes.compare_with_tico); `latest_attempt`, when the
cell's latest run could not install it because of the index or network (`infra`) and the verdicts shown
are those of its previous run (kvmatrix.record.matrix.merge_cells)."""
DETAIL_KEYS = ("schema_version", "id", "freeze", "runs")
"""A detail file `cells/<cell id>.json`."""
