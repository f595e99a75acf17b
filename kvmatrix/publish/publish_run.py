"""Merge cell results into `reports/matrix.json` and its detail files `reports/cells/<cell id>.json`, and
render everything published from them: `matrix.md`, `index.html`, the badges, the history line and the
README table.

The same code serves `nox -s matrix` locally and the publish step in CI. Every cell's suite summaries are
recomputed from its runs with the checkout's suite columns, and no published text keeps an absolute path
of the machine (kvmatrix.record.paths). A publish holds the reports folder's lock from reading the previous matrix to
writing the new one, and replaces the whole report set at once (kvmatrix.publish.report_set); a corrupt
previous matrix, an untrusted cell result, pins with selectors or a merge that would empty the matrix stop
it with one line before anything is written, and a run with nothing new leaves the published record as it
is (docs/publish.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.files import json_text
from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.publish.datasets import dataset_of, finished_of, published_datasets
from kvmatrix.publish.history import diff, extend_history
from kvmatrix.publish.history_file import read_history
from kvmatrix.publish.report_set import LOCK_TIMEOUT_S, recover, reports_lock, switch
from kvmatrix.record.answers import PICTURES, USES_FILE, uses_document, uses_text
from kvmatrix.record.cell_record import missing_result
from kvmatrix.record.cell_results import CellResultError, check_cell_result, read_cell_result
from kvmatrix.record.columns import discover_suites
from kvmatrix.record.detail import DETAIL_FOLDER, join, split
from kvmatrix.record.matrix import load_published, matrix_text, merge_cells, new_matrix
from kvmatrix.record.paths import pins_file_name, relative_paths_in
from kvmatrix.record.rederive import rederive_runs
from kvmatrix.record.verdicts import summarize_suites
from kvmatrix.render.badges import badges
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import index_as_of, render_markdown
from kvmatrix.render.readme import what_to_pin
from kvmatrix.render.use_picture import pictures


def result_file(results_dir: Path, cell_id: str, artifact_prefix: str | None = None) -> Path:
    """Where the result of cell `cell_id` is read: `results_dir/<cell id>.json`; with `artifact_prefix`,
    `results_dir/<artifact_prefix><cell id>/<cell id>.json`, the one file taken from the artifact of the
    cell's own CI job (download-artifact without merge-multiple gives each artifact a folder of its name). A
    job runs third-party code: a result it wrote for another cell is never read as that cell's."""
    if artifact_prefix is None:
        return results_dir / f"{cell_id}.json"
    return results_dir / f"{artifact_prefix}{cell_id}" / f"{cell_id}.json"


def collect(results_dir: Path, pins: Pins, cells: tuple[Cell, ...], suites: list[str],
            artifact_prefix: str | None = None) -> list[dict[str, Any]]:
    """The fresh record of each cell in `cells` (cells of `pins`), read from its `result_file`; a cell without
    a result file gets an `error` record (kvmatrix.record.cell_record.missing_result, its suites the columns
    `suites`)."""
    records = []
    for cell in cells:
        path = result_file(results_dir, cell.id, artifact_prefix)
        if path.exists():
            record = check_cell_result(read_cell_result(path), cell, path)
            records.append(check_planned_python(record, pins.python_for(cell), path))
        else:
            records.append(missing_result(cell, f"no result file {path.name}: the cell session did not finish", suites))
    return records


def check_planned_python(record: dict[str, Any], python: str, path: Path) -> dict[str, Any]:
    """`record` when it ran on the CPython minor `python` the plan gives its cell (or never ran a Python);
    CellResultError naming `path` otherwise. The same pair is a different cell on another Python: a result
    of the default matrix's cell with its own `python` is not the full grid's cell of that pair."""
    ran_on = record["python"]
    if ran_on is not None and ran_on != python and not ran_on.startswith(f"{python}."):
        raise CellResultError(f"{path}: it ran on Python {ran_on} where the plan runs the cell on {python}; "
                              f"refusing to publish it as cell {record['id']}")
    return record


README_START, README_END = "<!-- matrix:start -->", "<!-- matrix:end -->"


def embed_in_readme(readme: str, matrix: dict[str, Any], uses: dict[str, Any]) -> str:
    """`readme` with the text between the matrix markers replaced by what to pin for the most-asked uses
    (kvmatrix.render.readme, from `uses`, the matrix's answers file, uses.json)."""
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError(f"README lacks the {README_START} ... {README_END} markers")
    stamp = (f"Generated at {matrix['generated_at']}{index_as_of(matrix)} from [reports/uses.json](reports/uses.json); every use in "
             "every pair, with each route and why it fails: [reports/matrix.md](reports/matrix.md#by-use).")
    table = what_to_pin(uses)
    if any(marker in f"{stamp}{table}" for marker in (README_START, README_END)):  # escaped; never trusted
        raise ValueError("the matrix table contains a README marker; refusing to embed it")
    return f"{head}{start}\n{stamp}\n\n{table}\n{end}{tail}"


class IncompleteRun(ValueError):
    """A publish that requires every requested cell to have a result found some without one."""


class OverlappingFolders(ValueError):
    """The results folder and the reports folder are one inside the other: writing the report set (its detail
    files `cells/<cell id>.json`) could overwrite the results it is made from."""


def check_separate(results_dir: Path, reports_dir: Path) -> None:
    """OverlappingFolders unless `results_dir` and `reports_dir` are apart (neither is, or lies in, the other,
    symbolic links resolved)."""
    results, reports = results_dir.resolve(), reports_dir.resolve()
    if results == reports or results in reports.parents or reports in results.parents:
        raise OverlappingFolders(f"refusing to publish: the results folder {results_dir} and the reports folder "
                                 f"{reports_dir} overlap, and writing the reports (e.g. {reports_dir / DETAIL_FOLDER}"
                                 "/<cell id>.json) would overwrite the results; give them separate folders; "
                                 "nothing was written")


def published_cell(record: dict[str, Any], suites: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, detail) of a full cell record as published: every absolute path rewritten
    (kvmatrix.record.paths), its causes re-derived where an older ladder gave them (kvmatrix.record.rederive),
    and its `suites` summarised from its runs with the columns `suites` (a suite its runs
    lack gets what kvmatrix.record.verdicts.summarize_suites gives for no test, a client suite whose client
    did not run that client's status)."""
    record = relative_paths_in(record)
    rederive_runs(record["runs"])  # a record from before the ladder compared failures (kvmatrix.record.rederive)
    record["suites"] = summarize_suites(record["runs"], suites, record["status"], record.get("clients"))
    return split(record)


def publish(pins: Pins, cells: tuple[Cell, ...], results_dir: Path, reports_dir: Path,
            readme: Path | None = None, require_complete: bool = False,
            root: Path = REPO_ROOT, lock_timeout_s: float = LOCK_TIMEOUT_S,
            artifact_prefix: str | None = None) -> dict[str, Any]:
    """Write reports_dir/matrix.json and reports_dir/cells/<cell id>.json with `cells` refreshed and every
    other cell kept, and everything rendered from them: matrix.md, index.html, badges/*.json, one more line
    of history.jsonl; with `readme`, also refresh the table embedded in it. The columns are the suites of
    the checkout at `root` (kvmatrix.record.columns). The detail file of a cell no longer in the matrix is
    deleted. Returns the new matrix, whose `changes` say what differs from the previous matrix.json. Each
    cell's result is read from its `result_file` (with `artifact_prefix`: from its own CI artifact's folder).

    Refused with one line, writing nothing: overlapping results and reports folders (OverlappingFolders),
    pins with selectors (IncompleteRun), no result for any cell of
    `cells`, with `require_complete` a cell of `cells` without a result (IncompleteRun), a result that is
    not the planned cell's (CellResultError), a merge that would drop every cell of the previous matrix
    (IncompleteRun). The whole read-merge-write holds the folder's lock (a second publish waits
    up to `lock_timeout_s`, then ReportsBusy) and the whole set is switched at once
    (kvmatrix.publish.report_set). When the fresh records equal the published ones, matrix.json, the
    details and the history are left byte-identical and the previous matrix is returned; only files
    rendered from it are rewritten if the renderers changed.
    """
    check_separate(results_dir, reports_dir)
    if pins.pending:
        raise IncompleteRun(f"refusing to publish {pins.path}: it has cells with version selectors; those are "
                            "published into reports/latest by `nox -s latest`; nothing was written")
    if not any(result_file(results_dir, cell.id, artifact_prefix).exists() for cell in cells):  # e.g. no interpreter
        raise IncompleteRun(f"refusing to publish: no requested cell left a result file in {results_dir} "
                            f"(requested: {', '.join(cell.id for cell in cells) or 'none'}); nothing was written")
    if require_complete:
        missing = [cell.id for cell in cells if not result_file(results_dir, cell.id, artifact_prefix).exists()]
        if missing:
            raise IncompleteRun(
                f"refusing to publish a partial matrix: no result file in {results_dir} for "
                f"{', '.join(missing)}; nothing was written"
            )
    suites = discover_suites(root)
    fresh = collect(results_dir, pins, cells, suites, artifact_prefix)
    with reports_lock(reports_dir, lock_timeout_s):
        recover(reports_dir)
        return _merge_and_switch(pins, fresh, suites, reports_dir, readme)


def _merge_and_switch(pins: Pins, fresh: list[dict[str, Any]], suites: list[str], reports_dir: Path,
                      readme: Path | None) -> dict[str, Any]:
    """The locked part of `publish`: read the published set, merge `fresh` into it, switch to the new set."""
    matrix_path, history_path = reports_dir / "matrix.json", reports_dir / "history.jsonl"
    detail_dir = reports_dir / DETAIL_FOLDER
    previous, kept = load_published(matrix_path) if matrix_path.exists() else (None, {})
    previous_records = [join(cell, kept[cell["id"]]) for cell in previous["cells"]] if previous else []
    records = merge_cells(previous_records, fresh, pins)
    if previous and previous["cells"] and not {cell["id"] for cell in previous["cells"]} & {r["id"] for r in records}:
        raise IncompleteRun(f"refusing to publish: {pins.path} names none of the {len(previous['cells'])} cells of "
                            f"{matrix_path}, so publishing would drop them all (publish another pins file's "
                            "cells into another folder with --reports); nothing was written")
    merged = {record["id"] for record in records}
    dropped = [cell["id"] for cell in previous["cells"] if cell["id"] not in merged] if previous else []
    if dropped and previous["pins_file"] != pins_file_name(pins.path):
        raise IncompleteRun(f"refusing to publish: {matrix_path} was published from {previous['pins_file']}, and "
                            f"{pins.path} lacks {len(dropped)} of its cells ({', '.join(dropped)}), so publishing "
                            "would drop them (publish a pins file naming only some cells into another folder "
                            "with --reports); nothing was written")
    halves = [published_cell(record, suites) for record in records]
    details = {detail["id"]: detail for _, detail in halves}
    matrix = new_matrix(pins, [summary for summary, _ in halves], suites=suites)
    if previous is not None and _same_record(previous, kept, matrix, details):
        return _rerender(previous, kept, reports_dir, readme)
    matrix["changes"] = diff(previous, matrix, details, kept)
    history = read_history(history_path)  # a truncated line is reported and dropped
    if not history and previous is not None:
        history = extend_history("", previous)  # the first history also records what it is compared with
    texts = {
        **rendered_files(matrix, details, reports_dir, readme),
        **{detail_dir / f"{cell_id}.json": json_text(detail) for cell_id, detail in details.items()},
        matrix_path: matrix_text(matrix),
        history_path: extend_history(history, matrix),
    }
    stale = [path for path in detail_dir.glob("*.json") if path.stem not in details]
    switch(reports_dir, texts, [*stale, *stale_rendered(reports_dir, texts)])
    return matrix


def _same_record(previous: dict[str, Any], kept: dict[str, dict[str, Any]], matrix: dict[str, Any],
                 details: dict[str, dict[str, Any]]) -> bool:
    """Whether the new matrix records exactly what the published one does: same pins file, index snapshot,
    columns, cells and details (only `generated_at` and `changes`, which a publish sets, may differ; a moved
    snapshot is news even where no cell moved: the matrix then holds as of the later date)."""
    return (all(previous.get(key) == matrix.get(key) for key in ("pins_file", "index_snapshot", "suites", "cells"))
            and kept == details)


def rendered_files(matrix: dict[str, Any], details: dict[str, dict[str, Any]], reports_dir: Path,
              readme: Path | None) -> dict[Path, str]:
    """The files rendered from a matrix: uses.json and each use's picture, matrix.md, index.html, the badges
    and, with `readme`, the README. The answers are computed once, into uses.json, with the since summaries
    read from the other published matrices beside `reports_dir` (kvmatrix.publish.datasets); every view
    reads them from there."""
    dataset, _ = dataset_of(reports_dir)
    # The folder's own published set is the one being replaced: its matrix and details are not read again.
    uses = uses_document(matrix, dataset, published_datasets(reports_dir, but=dataset), finished_of(details))
    return {
        reports_dir / USES_FILE: uses_text(uses),
        **{reports_dir / name: svg for name, svg in pictures(uses).items()},
        reports_dir / "matrix.md": render_markdown(matrix, details, uses),
        reports_dir / "index.html": render_page(matrix, details, uses),
        **{reports_dir / "badges" / name: json_text(badge) for name, badge in badges(matrix, uses).items()},
        **({readme: embed_in_readme(readme.read_text(), matrix, uses)} if readme is not None else {}),
    }


def stale_rendered(reports_dir: Path, texts: dict[Path, str]) -> list[Path]:
    """Rendered files a publish no longer makes: pictures and badges of uses (or suites) that are gone."""
    return [path for folder, pattern in ((PICTURES, "*.svg"), ("badges", "*.json"))
            for path in (reports_dir / folder).glob(pattern) if path not in texts]


def _rerender(previous: dict[str, Any], kept: dict[str, dict[str, Any]], reports_dir: Path,
              readme: Path | None) -> dict[str, Any]:
    """Nothing new to publish: rewrite only the rendered files whose text the renderers now make differently
    (none when they did not change) and return the published matrix as it is."""
    switch_changed(reports_dir, rendered_files(previous, kept, reports_dir, readme))
    return previous


def switch_changed(reports_dir: Path, texts: dict[Path, str]) -> None:
    """Switch the files of `texts` that now read differently, and remove the rendered files no longer made
    (stale_rendered), as one set; nothing when neither exists."""
    changed = {path: text for path, text in texts.items()
               if not path.exists() or path.read_text(encoding="utf-8") != text}
    stale = stale_rendered(reports_dir, texts)
    if changed or stale:
        switch(reports_dir, changed, stale)
