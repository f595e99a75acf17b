"""The matrix file `reports/matrix.json` and its detail files `reports/cells/<cell id>.json`: create, load and
check them against the schema (docs/matrix-schema.md), merge fresh cells, and write the compact JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kvmatrix.files import json_lines
from kvmatrix.plan.pins import Pins, utc_now
from kvmatrix.record.detail import DETAIL_FOLDER
from kvmatrix.record.paths import pins_file_name
from kvmatrix.record.schema import CELL_KEYS, DETAIL_KEYS, SCHEMA_VERSION, TOP_LEVEL_KEYS
from kvmatrix.record.shapes import matrix_cell_problem, runs_problem, type_problem
from kvmatrix.record.upgrade import OLDER_VERSIONS, upgrade
from kvmatrix.record.verdicts import CELL_STATUSES, INFRA, RAN


class ReportError(ValueError):
    """A matrix file or matrix content that is missing, unreadable or breaks the schema."""


def new_matrix(
    pins: Pins, cells: list[dict[str, Any]], generated_at: str | None = None, *, suites: list[str]
) -> dict[str, Any]:
    """The top-level matrix for `cells` (cell summaries, kvmatrix.record.detail.split), ordered as in `pins`, with
    `suites` as its columns (a real run's are kvmatrix.record.columns.discover_suites()).

    `generated_at` defaults to now (UTC, ISO 8601 with a `Z`). A cell whose id is not in `pins`, a duplicate
    id or a cell missing schema keys raises ReportError. The pins' index snapshot is `index_snapshot`; the
    planned cells that `cells` lack are listed in `not_run` (kvmatrix.record.schema.OPTIONAL_TOP_LEVEL_KEYS).
    """
    order = {cell.id: index for index, cell in enumerate(pins.cells)}
    strays = [cell.get("id") for cell in cells if cell.get("id") not in order]
    if strays:
        raise ReportError(f"cell(s) not in {pins.path}: {', '.join(map(str, strays))}")
    matrix = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at or utc_now(),
        "pins_file": pins_file_name(pins.path),
        "suites": list(suites),
        "cells": sorted(cells, key=lambda cell: order[cell["id"]]),
    }
    if pins.snapshot is not None:
        matrix["index_snapshot"] = pins.snapshot
    published = {cell["id"] for cell in cells}
    not_run = [cell.id for cell in pins.cells if cell.id not in published]
    if not_run:
        matrix["not_run"] = not_run
    _check_matrix(matrix, "new matrix")
    return matrix


def load_matrix(path: str | Path) -> dict[str, Any]:
    """Read and check a matrix file, without its detail files; a missing, truncated or off-schema file raises
    ReportError. A file of schema version 1 or 2 is read as version 3 (kvmatrix.record.upgrade)."""
    return _load(Path(path))[0]


def load_published(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the matrix, the detail of each of its cells by id): `load_matrix` and the detail files in the
    `cells/` folder beside it (for a file of schema version 1 or 2, the details it held inline). A missing,
    truncated or off-schema detail file raises ReportError."""
    path = Path(path)
    matrix, details = _load(path)
    if details is None:
        details = {cell["id"]: _load_detail(path.parent / DETAIL_FOLDER / f"{cell['id']}.json", cell["id"])
                   for cell in matrix["cells"]}
    return matrix, details


def _load(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]] | None]:
    matrix, details = upgrade(_read_json(path, "matrix file"))
    _check_matrix(matrix, str(path))
    return matrix, details


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read {what}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "is the file truncated?"
        ) from None


def _load_detail(path: Path, cell_id: str) -> dict[str, Any]:
    """Read and check the detail file of `cell_id`."""
    detail = _read_json(path, f"detail file of cell {cell_id}")
    if not isinstance(detail, dict):
        raise ReportError(f"{path}: a detail file must be a JSON object, found {type(detail).__name__}")
    missing = [key for key in DETAIL_KEYS if key not in detail]
    if missing:
        raise ReportError(f"{path}: missing key(s): {', '.join(missing)}")
    if detail["schema_version"] != SCHEMA_VERSION or detail["id"] != cell_id:
        raise ReportError(f"{path}: schema_version {detail['schema_version']!r} and id {detail['id']!r}; "
                          f"expected {SCHEMA_VERSION} and {cell_id!r}")
    problem = type_problem("runs", detail["runs"], (dict,)) or runs_problem(detail["runs"])
    if problem:
        raise ReportError(f"{path}: {problem}")
    return detail


def _check_matrix(matrix: Any, source: str) -> None:
    """Raise ReportError unless `matrix` has the schema's top level and every cell has the schema's keys, of
    the types kvmatrix.record.shapes gives (its `tests` table and `metrics` included)."""
    if not isinstance(matrix, dict):
        raise ReportError(f"{source}: the matrix must be a JSON object, found {type(matrix).__name__}")
    found = matrix.get("schema_version")
    if type(found) is not int or found != SCHEMA_VERSION:
        older = ", ".join(map(str, OLDER_VERSIONS))
        raise ReportError(f"{source}: schema_version is {found!r}; this reader understands {SCHEMA_VERSION} "
                          f"(and {older}, read as {SCHEMA_VERSION})")
    missing = [key for key in TOP_LEVEL_KEYS if key not in matrix]
    if missing:
        raise ReportError(f"{source}: missing top-level key(s): {', '.join(missing)}")
    if not isinstance(matrix["suites"], list) or not isinstance(matrix["cells"], list):
        raise ReportError(f"{source}: 'suites' and 'cells' must be lists")
    if not isinstance(matrix.get("index_snapshot", ""), str):
        raise ReportError(f"{source}: 'index_snapshot' must be a string")
    seen: set[str] = set()
    for number, cell in enumerate(matrix["cells"], start=1):
        if not isinstance(cell, dict):
            raise ReportError(f"{source}: cell #{number} must be an object")
        where = f"{source}: cell #{number} ({cell.get('id', 'no id')})"
        missing = [key for key in CELL_KEYS if key not in cell]
        if missing:
            raise ReportError(f"{where} is missing key(s): {', '.join(missing)}")
        problem = matrix_cell_problem(cell)
        if problem:
            raise ReportError(f"{where}: {problem.removeprefix('cell.')}")
        if cell["status"] not in CELL_STATUSES:
            raise ReportError(f"{where}: status {cell['status']!r} is not one of {', '.join(CELL_STATUSES)}")
        if cell["id"] in seen:
            raise ReportError(f"{where}: duplicate cell id")
        seen.add(cell["id"])


def matrix_text(matrix: dict[str, Any]) -> str:
    """The text of matrix.json: compact JSON with one line per top-level field and one per cell."""
    return json_lines(matrix, "cells")


def _newest_verdicts(fresh: dict[str, Any] | None, kept: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cell to publish for one pin: `fresh`, or `kept` marked with the attempt when `fresh` is `infra`
    and `kept` ran."""
    if fresh is not None and fresh["status"] == INFRA and kept is not None and kept["status"] == RAN:
        return {**kept, "latest_attempt": {"status": INFRA, "reason": fresh.get("status_reason")}}
    return fresh or kept


def merge_cells(
    previous: list[dict[str, Any]], fresh: list[dict[str, Any]], pins: Pins
) -> list[dict[str, Any]]:
    """The cells of the next matrix, in pins order, from the `previous` matrix's cells and the `fresh` ones.

    A fresh cell replaces the previous one with the same id, except that a fresh `infra` cell (the index or
    the network failed, which proves nothing about the pair) does not replace a previous cell that ran: that
    one is kept, with the failed attempt as its `latest_attempt` (`status`, `reason`), so no verdict is lost
    and none is shown as fresher than it is. Previous cells of pins not re-run are kept; cells whose pins
    left the pins file are dropped; pins with neither get no cell. `note` and `tags` come
    from `pins`. A fresh cell not in `pins`, or two fresh cells with one id, raise ReportError.
    """
    pinned = {cell.id for cell in pins.cells}
    fresh_by_id: dict[str, dict[str, Any]] = {}
    for cell in fresh:
        if cell["id"] not in pinned:
            raise ReportError(f"fresh cell {cell['id']} is not in {pins.path}")
        if cell["id"] in fresh_by_id:
            raise ReportError(f"two fresh results for cell {cell['id']}")
        fresh_by_id[cell["id"]] = cell
    kept = {cell["id"]: cell for cell in previous}
    merged = []
    for pin in pins.cells:
        cell = _newest_verdicts(fresh_by_id.get(pin.id), kept.get(pin.id))
        if cell is not None:
            merged.append({**cell, "note": pin.note, "tags": list(pin.tags)})
    return merged


