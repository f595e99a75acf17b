"""Reuse a cell's previous result when its inputs are unchanged (docs/incremental.md): before a matrix runs,
each cell's inputs key (kvmatrix.run.inputs) is compared with its previous full record's, first the result
in the run's results folder, else the published one; a match becomes the cell's result, marked with the
run it came from, and the cell is not run. Inputs that cannot be found never match: that cell runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kvmatrix.files import write_json_atomic
from kvmatrix.plan.pins import Cell
from kvmatrix.record.cell_results import check_cell_result, read_cell_result
from kvmatrix.record.detail import join
from kvmatrix.record.matrix import ReportError, load_published
from kvmatrix.record.verdicts import RAN
from kvmatrix.run.inputs import changed_parts

INPUTS_AT_ONCE = 4
"""Cells whose inputs are found at the same time."""
InputsOf = Callable[[Cell], dict[str, Any] | None]
"""A cell's inputs (kvmatrix.run.inputs.cell_inputs with its requirements and interpreter), None: unknown."""


@dataclass(frozen=True)
class Previous:
    """A previous full record of a cell and where it was found (for the log)."""

    record: dict[str, Any]
    source: str


@dataclass(frozen=True)
class Decision:
    """Whether a cell runs, and the one log line that says why or where its reused result came from;
    `record`: the reused result (None when it runs)."""

    cell: Cell
    line: str
    record: dict[str, Any] | None = None

    @property
    def run(self) -> bool:
        """Whether the cell runs (no previous result is reused)."""
        return self.record is None


def previous_records(cell: Cell, results: Path, published: dict[str, dict[str, Any]]) -> list[Previous]:
    """The cell's previous full records, most recent first: `results/<cell id>.json` when it is a valid result
    of this cell, then its record in `published` (by id, from `published_records`)."""
    found = []
    path = results / f"{cell.id}.json"
    if path.exists():
        try:
            found.append(Previous(check_cell_result(read_cell_result(path), cell, path), str(path)))
        except ReportError:
            pass  # an unreadable or foreign result is no previous result: the cell runs
    if cell.id in published:
        found.append(Previous(published[cell.id], "the published matrix"))
    return found


def published_records(reports: Path) -> dict[str, dict[str, Any]]:
    """Every full record of the matrix published in `reports` by cell id (summary and detail joined); none
    where there is no matrix or it cannot be read (then every cell runs)."""
    try:
        matrix, details = load_published(reports / "matrix.json")
    except ReportError:
        return {}
    return {cell["id"]: join(cell, details[cell["id"]]) for cell in matrix["cells"]}


def reused(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as the result of a run that reused it: `reused_from` says the run that produced it (its
    `finished_at`; a record that was itself reused keeps the run it came from)."""
    return {**record, "reused_from": record.get("reused_from") or record.get("finished_at")}


def reusable(record: dict[str, Any], key: str) -> bool:
    """Whether `record` may stand for a run whose inputs key is `key`: it has that key and ran its suites
    (an `infra` or `error` cell, an index down or a crashed session, says nothing about its inputs)."""
    return (record.get("inputs") or {}).get("key") == key and record.get("status") == RAN


def decide(cell: Cell, inputs: dict[str, Any] | None, previous: Sequence[Previous], fresh: bool) -> Decision:
    """Run `cell` or reuse one of its `previous` records: reuse the first that is `reusable` for `inputs`,
    unless `fresh` or the inputs are unknown."""
    if fresh:
        return Decision(cell, f"{cell.id}: run (--fresh)")
    if inputs is None:
        return Decision(cell, f"{cell.id}: run (its inputs cannot be told: uv could not resolve its pins "
                                    "or its interpreter did not start)")
    for candidate in previous:
        if reusable(candidate.record, inputs["key"]):
            record = reused(candidate.record)
            return Decision(cell, f"{cell.id}: reused the result of the run finished at {record['reused_from']} "
                                  f"(from {candidate.source})", record)
    if not previous:
        return Decision(cell, f"{cell.id}: run (no previous result)")
    same = next((c for c in previous if (c.record.get("inputs") or {}).get("key") == inputs["key"]), None)
    if same is not None:
        return Decision(cell, f"{cell.id}: run (its previous result, from {same.source}, did not run its suites: "
                              f"{same.record.get('status')})")
    with_inputs = next((c for c in previous if c.record.get("inputs")), None)
    if with_inputs is None:
        return Decision(cell, f"{cell.id}: run (its previous result records no inputs)")
    changed = ", ".join(changed_parts(with_inputs.record["inputs"], inputs)) or "key"
    return Decision(cell, f"{cell.id}: run (inputs changed since {with_inputs.source}: {changed})")


def all_inputs(cells: Sequence[Cell], inputs_of: InputsOf) -> list[dict[str, Any] | None]:
    """`inputs_of` each cell, in order: the first alone (it may probe torch's index, once per process), the
    others INPUTS_AT_ONCE at a time (each is a `uv pip compile`, which mostly waits on the index)."""
    if not cells:
        return []
    first = inputs_of(cells[0])
    with ThreadPoolExecutor(INPUTS_AT_ONCE) as pool:
        return [first, *pool.map(inputs_of, cells[1:])]


def reuse_or_run(cells: Sequence[Cell], inputs_of: InputsOf, results: Path, reports: Path,
                 fresh: bool = False) -> list[Decision]:
    """Decide each cell of `cells` (`decide`); write each reused record as the cell's result in `results`
    and remove the stale result of each cell that runs. `inputs_of` is not called when `fresh`."""
    published = {} if fresh else published_records(reports)
    found = [None] * len(cells) if fresh else all_inputs(cells, inputs_of)
    decisions = []
    for cell, inputs in zip(cells, found, strict=True):
        previous = [] if fresh else previous_records(cell, results, published)
        decision = decide(cell, inputs, previous, fresh)
        path = results / f"{cell.id}.json"
        if decision.record is None:
            path.unlink(missing_ok=True)
        else:
            write_json_atomic(path, decision.record)
        decisions.append(decision)
    return decisions
