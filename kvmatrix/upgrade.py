"""Read a matrix of schema version 1 as schema version 2 (docs/matrix-schema.md), so that the matrix a
publish replaces can be merged, diffed and kept whatever schema it was written under.

Version 2 added, per cell, `static_layer_init` (null: not detected then) and `compat_regressions`, and per
test record `cause`, `cause_detail`, `upstream` (null) and `reruns` (`[]`: version 1 never re-ran).
`compat_regressions` and the `compat` cause are derived from the cell's two runs, as a fresh cell's are.
"""

from __future__ import annotations

from typing import Any

from .causes import attribute_compat

FROM_VERSION, TO_VERSION = 1, 2
NULL_TEST_KEYS = ("cause", "cause_detail", "upstream")


def upgrade_v1(matrix: dict[str, Any]) -> dict[str, Any]:
    """`matrix` (schema version 1, already parsed) upgraded in place to version 2; returns it. Cells that
    are not objects are left for the schema check to report."""
    cells = matrix.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        for run in (cell.get("runs") or {}).values():
            for test in run.get("tests", []):
                test.update({key: test.get(key) for key in NULL_TEST_KEYS}, reruns=test.get("reruns", []))
        cell.update(static_layer_init=None, compat_regressions=attribute_compat(cell.get("runs") or {}))
    matrix["schema_version"] = TO_VERSION
    return matrix
