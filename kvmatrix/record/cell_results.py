"""Read the result file a cell run leaves (`<results>/<cell id>.json`, written by kvmatrix.run.cell.run_cell)
for the publish step, and check it against the cell it was planned for: a file that is not one JSON object,
holds another cell, disagrees with the cell's pins or breaks the record's key types stops the publish with
one line naming it (in CI the cell jobs run third-party code; their files are not trusted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kvmatrix.plan.pins import Cell
from kvmatrix.record.matrix import ReportError
from kvmatrix.record.shapes import (
    OPTIONAL_RECORD_TYPES,
    RECORD_TYPES,
    kind,
    metrics_problem,
    runs_problem,
    type_problem,
)
from kvmatrix.record.verdicts import CELL_STATUSES, CLIENT_STATUSES, CLIENT_SUITES


class CellResultError(ReportError):
    """A cell result file that cannot be read, is not JSON or is not a JSON object; the message names it."""


def read_cell_result(path: Path) -> dict[str, Any]:
    """The record in the cell result file `path`; CellResultError when it is unreadable, invalid JSON (a
    truncated file) or anything but a JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CellResultError(f"{path}: cannot read the cell result: {exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CellResultError(f"{path}: the cell result is not valid JSON ({exc.msg} at line {exc.lineno} "
                              f"column {exc.colno}); is the file truncated?") from None
    except RecursionError:
        raise CellResultError(f"{path}: the cell result is nested too deeply to read") from None
    if not isinstance(record, dict):
        raise CellResultError(f"{path}: a cell result must be a JSON object, found {kind(record)}")
    return record


ENTRY_TYPES: dict[str, dict[str, type]] = {
    "registration_report": {"class": str, "status": str},
    "compat_regressions": {"suite": str, "name": str},
    "tico_advantages": {"suite": str, "name": str},
}
"""The list keys of a record whose entries are objects, and the string keys each entry must have."""
STRING_LISTS = ("tags", "freeze")
"""The list keys of a record whose entries are strings."""


def check_cell_result(record: dict[str, Any], cell: Cell, path: Path) -> dict[str, Any]:
    """`record` when it is a result of the planned `cell`: the same id and transformers/torch pins, every
    key of RECORD_TYPES with its type (and of OPTIONAL_RECORD_TYPES where present), a known status, a
    `clients` entry only for a client suite and with a known status, and the runs, their tests and the
    metrics of the types kvmatrix.record.shapes gives; CellResultError naming `path` and the field otherwise."""
    def refuse(problem: str) -> CellResultError:
        return CellResultError(f"{path}: {problem}; refusing to publish it as cell {cell.id}")

    if record.get("id") != cell.id:
        raise refuse(f"the result is for cell {str(record.get('id'))!r}")
    missing = [key for key in RECORD_TYPES if key not in record]
    if missing:
        raise refuse(f"the result lacks key(s) {', '.join(missing)}")
    for key, types in {**RECORD_TYPES, **{k: t for k, t in OPTIONAL_RECORD_TYPES.items() if k in record}}.items():
        if problem := type_problem(key, record[key], types):
            raise refuse(problem)
    for package in ("transformers", "torch"):
        if record["pins"].get(package) != getattr(cell, package):
            raise refuse(f"its {package} pin {record['pins'].get(package)!r} is not the cell's "
                         f"{getattr(cell, package)!r}")
    if record["status"] not in CELL_STATUSES:
        raise refuse(f"status {record['status']!r} is not one of {', '.join(CELL_STATUSES)}")
    for suite, client in record.get("clients", {}).items():
        if suite not in CLIENT_SUITES or not isinstance(client, dict) or client.get("status") not in CLIENT_STATUSES:
            raise refuse(f"clients entry {suite!r} is not a client suite's outcome with a status of "
                         f"{', '.join(CLIENT_STATUSES)}")
    for key, fields in ENTRY_TYPES.items():
        for number, entry in enumerate(record.get(key, []), start=1):
            if not isinstance(entry, dict) or any(not isinstance(entry.get(f), t) for f, t in fields.items()):
                raise refuse(f"{key} entry #{number} is not an object with string {', '.join(fields)}")
    for key in STRING_LISTS:
        if problem := next((type_problem(f"{key}[{n}]", item, (str,)) for n, item in enumerate(record[key])
                            if not isinstance(item, str)), None):
            raise refuse(problem)
    if problem := runs_problem(record["runs"]) or metrics_problem(record["metrics"]):
        raise refuse(problem)
    return record
