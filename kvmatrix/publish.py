"""Merge cell results into `reports/matrix.json` and render everything published from it: `matrix.md`,
`index.html`, the badges, the history line and the README table.

The same code serves `nox -s matrix` locally and the publish step in CI. Reports are replaced
atomically, and a corrupt previous matrix stops the run with a clear error before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .badges import badges
from .cell import SUITES, repro_command
from .cell_results import read_cell_result
from .history import diff, extend_history
from .history_file import read_history
from .html import render_page
from .pins import Cell, Pins
from .report import load_matrix, merge_cells, new_matrix, render_markdown, render_table, write_text_atomic
from .verdicts import ERROR, summarize_suites


def missing_result(cell: Cell, why: str) -> dict[str, Any]:
    """The record of a cell that was asked for but left no result (its session crashed before writing)."""
    return {
        **cell.to_json(), "status": ERROR, "status_reason": why, "python": None, "resolved": {},
        "freeze": [], "layout": None, "static_layer_init": None, "registration_report": [],
        "compat_regressions": [], "runs": {}, "suites": summarize_suites({}, SUITES, ERROR),
        "repro": repro_command(cell),
        "install_duration_s": 0.0, "duration_s": 0.0,
    }


def collect(results_dir: Path, cells: tuple[Cell, ...]) -> list[dict[str, Any]]:
    """The fresh record of each cell in `cells`; a cell without a result file gets an `error` record."""
    records = []
    for cell in cells:
        path = results_dir / f"{cell.id}.json"
        if path.exists():
            records.append(read_cell_result(path))
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


class IncompleteRun(ValueError):
    """A publish that requires every requested cell to have a result found some without one."""


def publish(pins: Pins, cells: tuple[Cell, ...], results_dir: Path, reports_dir: Path,
            readme: Path | None = None, require_complete: bool = False) -> dict[str, Any]:
    """Write reports_dir/matrix.json with `cells` refreshed and every other cell kept, and everything
    rendered from it: matrix.md, index.html, badges/*.json, one more line of history.jsonl; with `readme`,
    also refresh the table embedded in it. Returns the new matrix, whose `changes` say what differs from
    the previous matrix.json.

    With `require_complete`, a cell of `cells` without a result file raises IncompleteRun before anything
    is written, so a partial run never replaces the last published matrix. Every output is rendered before
    the first one is written, and each is replaced atomically.
    """
    if not any((results_dir / f"{cell.id}.json").exists() for cell in cells):  # e.g. no interpreter
        raise IncompleteRun(f"refusing to publish: no requested cell left a result file in {results_dir} "
                            f"(requested: {', '.join(cell.id for cell in cells) or 'none'}); nothing was written")
    if require_complete:
        missing = [cell.id for cell in cells if not (results_dir / f"{cell.id}.json").exists()]
        if missing:
            raise IncompleteRun(
                f"refusing to publish a partial matrix: no result file in {results_dir} for "
                f"{', '.join(missing)}; nothing was written"
            )
    matrix_path, history_path = reports_dir / "matrix.json", reports_dir / "history.jsonl"
    previous = load_matrix(matrix_path) if matrix_path.exists() else None
    merged = merge_cells(previous, collect(results_dir, cells), pins)
    matrix = new_matrix(pins, merged, suites=SUITES)
    matrix["changes"] = diff(previous, matrix)
    history = read_history(history_path)  # a truncated line is reported and dropped
    if not history and previous is not None:
        history = extend_history("", previous)  # the first history also records what it is compared with
    texts = {
        reports_dir / "matrix.md": render_markdown(matrix),
        reports_dir / "index.html": render_page(matrix),
        **{reports_dir / "badges" / name: _json_text(badge) for name, badge in badges(matrix).items()},
        **({readme: embed_in_readme(readme.read_text(), matrix)} if readme is not None else {}),
        matrix_path: _json_text(matrix),
        history_path: extend_history(history, matrix),
    }
    for path, text in texts.items():
        write_text_atomic(path, text)
    return matrix


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
