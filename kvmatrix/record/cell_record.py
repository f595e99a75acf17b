"""The cell record (docs/matrix-schema.md, "Cell record"): built here, and only here, from a cell's install
outcome and runs, for a cell that ran and for one that left no result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kvmatrix.plan.pins import Cell
from kvmatrix.record.causes import attribute_compat, compare_with_tico
from kvmatrix.record.metrics import cell_metrics
from kvmatrix.record.packages import torch_build
from kvmatrix.record.paths import relative_paths_in
from kvmatrix.record.verdicts import ERROR, MODES, RAN, summarize_suites


@dataclass
class InstallOutcome:
    """How installing a cell's pins ended."""

    status: str  # ran (installed) | not-installable | infra | error
    reason: str | None = None
    attempts: int = 0
    duration_s: float = 0.0
    log: list[str] = field(default_factory=list)


def repro_command(cell: Cell) -> str:
    """The one-line command that reruns this cell: its nox session for a pinned cell, the cell runner on the
    exact pair for a cell whose versions a selector chose (it has no nox session of its own)."""
    if cell.requested:
        return f"python -m kvmatrix.run.cell_cli --pair {cell.id}"
    return f"nox -s 'cell({cell.id})'"


def silent_cell_reason(runs: dict[str, Any]) -> str:
    """Why a cell whose install went through has no test: the reason the first run's log gives
    (`log_reason`, kvmatrix.run.process.pytest_run.run_suites), e.g. transformers refusing the cell's torch at
    import."""
    for mode, run in runs.items():
        found = run.get("log_reason")
        if found:
            return f"no suite run reported any test; the {mode} run's log (pytest exit {run.get('exit_code')}): {found}"
    return "no suite run reported any test; see the runs' log tails"


def build_record(cell: Cell, outcome: InstallOutcome, frozen: list[str], runs: dict[str, Any],
                 duration_s: float, suites: list[str], inputs: dict[str, Any] | None = None,
                 finished_at: str | None = None, clients: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble the cell's full record (docs/matrix-schema.md, "Cell record"), its `suites` summarised
    with the columns `suites`, every absolute path in it rewritten (kvmatrix.record.paths); a `with` test that
    fails where its `without` twin passes gets cause `compat` and is listed in `compat_regressions`; its
    `torch_build` (`cpu`, `cuda 12.4`, ...) is read from the installed set `frozen`. `inputs`
    (kvmatrix.run.inputs; None: unknown), `finished_at` (UTC, ISO 8601) and `index_snapshot` (the index as of
    which it installed, Cell.snapshot) identify the run; a record built
    here is never a reused one (`reused_from` null, kvmatrix.run.reuse). `clients` (the client suites' install
    and run outcome by suite, kvmatrix.record.verdicts.CLIENT_SUITES; None: not recorded) is kept as the
    record's `clients` and decides those suites' verdicts where a client did not run; a cell with a `tico`
    run gets `tico_advantages` and `compat_advantages` (kvmatrix.record.causes.compare_with_tico)."""
    status = outcome.status
    if status == RAN and not any(run.get("tests") for run in runs.values()):
        status = ERROR
    meta = next((runs[m]["meta"] for m in MODES if "meta" in runs.get(m, {})), {})
    with_meta = runs.get("with", {}).get("meta", {})
    return relative_paths_in({
        **cell.to_json(),
        "status": status,
        "status_reason": outcome.reason if outcome.status != RAN else (
            None if status == RAN else silent_cell_reason(runs)),
        "python": meta.get("python"),
        "resolved": meta.get("versions", {}),
        "freeze": frozen,
        "torch_build": torch_build(frozen),
        "layout": meta.get("layout"),
        "static_layer_init": meta.get("static_layer_init"),
        "registration_report": with_meta.get("registration_report", []),
        "compat_regressions": attribute_compat(runs),
        "runs": runs,
        "suites": summarize_suites(runs, suites, status, clients),
        "metrics": cell_metrics(runs),
        "repro": repro_command(cell),
        "install_duration_s": outcome.duration_s,
        "duration_s": round(duration_s, 2),
        "inputs": inputs,
        "finished_at": finished_at,
        "index_snapshot": cell.snapshot,
        "reused_from": None,
        **({"clients": clients} if clients is not None else {}),
        **compare_with_tico(runs),
    })


def missing_result(cell: Cell, why: str, suites: list[str]) -> dict[str, Any]:
    """The record of a cell that was asked for but left no result (its session crashed before writing):
    `error` with `why` as its reason, no runs, every suite `error`."""
    return build_record(cell, InstallOutcome(ERROR, why), [], {}, 0.0, suites)
