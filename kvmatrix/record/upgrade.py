"""Read a matrix of schema version 1 or 2 as schema version 3 (docs/matrix-schema.md), so that the matrix a
publish replaces can be merged, diffed and kept whatever schema it was written under.

Version 2 added, per cell, `static_layer_init` (null: not detected then) and `compat_regressions`, and per
test record `cause`, `cause_detail`, `upstream` (null) and `reruns` (`[]`: version 1 never re-ran).
`compat_regressions` and the `compat` cause are derived from the cell's two runs, as a fresh cell's are.

Version 3 moved each cell's `runs` and `freeze` into its detail file (kvmatrix.record.detail.split) and requires
`metrics` (derived from the runs where a cell lacks it).
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.causes import attribute_compat
from kvmatrix.record.detail import split
from kvmatrix.record.metrics import cell_metrics
from kvmatrix.record.schema import SCHEMA_VERSION

OLDER_VERSIONS = (1, 2)
NULL_TEST_KEYS = ("cause", "cause_detail", "upstream")
SPLIT_KEYS = {"id", "runs", "freeze"}
"""What a cell needs to be split; one without them is left for the schema check to report."""


def upgrade(matrix: Any) -> tuple[Any, dict[str, dict[str, Any]] | None]:
    """(`matrix` upgraded in place to version 3, the detail of each of its cells by id) for a matrix of
    schema version 1 or 2, already parsed; any other value is returned as it is, with None: a version 3
    matrix's details are in their own files. Cells that are not objects or lack `id`, `runs` or
    `freeze` are left for the schema check to report."""
    version = matrix.get("schema_version") if isinstance(matrix, dict) else None
    if type(version) is not int or version not in OLDER_VERSIONS:
        return matrix, None
    cells = matrix.get("cells")
    details = {}
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or not SPLIT_KEYS <= cell.keys():
            continue
        if version == 1:
            _v1_to_v2(cell)
        cell.setdefault("metrics", cell_metrics(cell["runs"]))
        cells[index], details[cell["id"]] = split(cell)
    matrix["schema_version"] = SCHEMA_VERSION
    return matrix, details


def _v1_to_v2(cell: dict[str, Any]) -> None:
    """A version 1 cell given the keys version 2 added (see the module docstring)."""
    for run in (cell.get("runs") or {}).values():
        for test in run.get("tests", []):
            test.update({key: test.get(key) for key in NULL_TEST_KEYS}, reruns=test.get("reruns", []))
    cell.update(static_layer_init=None, compat_regressions=attribute_compat(cell.get("runs") or {}))
