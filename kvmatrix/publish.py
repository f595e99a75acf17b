"""Merge cell results into `reports/matrix.json` and render `reports/matrix.md`.

The same code serves `nox -s matrix` locally and the publish step in CI. Reports are replaced
atomically, and a corrupt previous matrix stops the run with a clear error before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cell import SUITES, repro_command
from .pins import Cell, Pins
from .report import (
    load_matrix, merge_cells, new_matrix, render_markdown, render_table, write_json_atomic, write_text_atomic,
)
from .verdicts import ERROR, summarize_suites


def missing_result(cell: Cell, why: str) -> dict[str, Any]:
    """The record of a cell that was asked for but left no result (its session crashed before writing)."""
    return {
        **cell.to_json(), "status": ERROR, "status_reason": why, "python": None, "resolved": {},
        "freeze": [], "layout": None, "registration_report": [], "runs": {},
        "suites": summarize_suites({}, SUITES, ERROR), "repro": repro_command(cell),
        "install_duration_s": 0.0, "duration_s": 0.0,
    }


def collect(results_dir: Path, cells: tuple[Cell, ...]) -> list[dict[str, Any]]:
    """The fresh record of each cell in `cells`; a cell without a result file gets an `error` record."""
    records = []
    for cell in cells:
        path = results_dir / f"{cell.id}.json"
        if path.exists():
            records.append(json.loads(path.read_text()))
        else:
            records.append(missing_result(cell, f"no result file {path.name}: the cell session did not finish"))
    return records


README_START, README_END = "<!-- matrix:start -->", "<!-- matrix:end -->"


def embed_in_readme(readme: str, matrix: dict[str, Any]) -> str:
    """`readme` with the text between the matrix markers replaced by the current matrix table."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError(f"README lacks the {README_START} ... {README_END} markers")
    stamp = f"Generated at {matrix['generated_at']}; details in [reports/matrix.md](reports/matrix.md)."
    table = render_table(matrix).removeprefix("## Matrix\n\n")
    return f"{head}{start}\n{stamp}\n\n{table}\n{end}{tail}"


def publish(pins: Pins, cells: tuple[Cell, ...], results_dir: Path, reports_dir: Path,
            readme: Path | None = None) -> dict[str, Any]:
    """Write reports_dir/matrix.json and matrix.md with `cells` refreshed and every other cell kept;
    with `readme`, also refresh the table embedded in it."""
    matrix_path = reports_dir / "matrix.json"
    previous = load_matrix(matrix_path) if matrix_path.exists() else None
    merged = merge_cells(previous, collect(results_dir, cells), pins)
    matrix = new_matrix(pins, merged, suites=SUITES)
    reports_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(matrix_path, matrix)
    write_text_atomic(reports_dir / "matrix.md", render_markdown(matrix))
    if readme is not None:
        write_text_atomic(readme, embed_in_readme(readme.read_text(), matrix))
    return matrix
