"""Read the result file a cell run leaves (`<results>/<cell id>.json`, written by kvmatrix.run.cell.run_cell)
for the publish step: a file that is not one JSON object stops the publish with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kvmatrix.record.matrix import ReportError


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
        raise CellResultError(f"{path}: a cell result must be a JSON object, found {_kind(record)}")
    return record


def _kind(value: Any) -> str:
    """What a JSON value other than an object is: an array, a string, a boolean, a number or null."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "null"
