"""Pure helpers of the benchmark: summaries of samples, ratios, the parsing of pytest's and `time`'s output,
and the split of a cell's wall time into the suites' own time and the harness's overhead.

Nothing here runs a process or reads the clock; `benchmarks/harness.py` measures, this module only computes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

_SESSION_TIME = re.compile(r"\bin (\d+(?:\.\d+)?)s\b")
_COUNT = re.compile(r"(\d+) (failed|passed|skipped|xfailed|xpassed|errors?|deselected)\b")
_REAL = re.compile(r"^real\s+(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s\s*$", re.MULTILINE)
_GNU_ELAPSED = re.compile(r"^\s*Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*$",
                          re.MULTILINE)


def summarize(samples: Iterable[float]) -> dict[str, Any]:
    """`{"median", "min", "max", "n", "samples"}` of some timings in seconds (all rounded to 0.01 s)."""
    values = [round(float(v), 2) for v in samples]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "samples": []}
    return {"median": round(median(values), 2), "min": min(values), "max": max(values), "n": len(values),
            "samples": values}


def ratio(slow: float | None, fast: float | None) -> float | None:
    """How many times `fast` is faster than `slow` (`slow / fast`), or None when either is missing or 0."""
    if not slow or not fast:
        return None
    return round(slow / fast, 1)


def percent(part: float | None, whole: float | None) -> float | None:
    """`part` as a percentage of `whole`, one decimal, or None when either is missing or `whole` is 0."""
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


def fmt_seconds(value: float | None) -> str:
    """`0.84 s`, `12.3 s`, `5 min 07 s` (from 120 s on), or `n/a`."""
    if value is None:
        return "n/a"
    if value >= 120:
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes} min {seconds:02d} s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_ratio(value: float | None) -> str:
    """`63.0×`, or `n/a`."""
    return "n/a" if value is None else f"{value:.1f}×"


def fmt_percent(value: float | None) -> str:
    """`4.2 %`, or `n/a`."""
    return "n/a" if value is None else f"{value:.1f} %"


def pytest_session_s(log_tail: str) -> float | None:
    """pytest's own session duration from its final summary line (`3 failed, 5 passed in 12.34s (0:00:12)`):
    from the session's start to its end, so collection is in it, the interpreter's start, the imports and
    the `pytest_configure` hooks (the suites' conftest imports torch there) are not."""
    for line in reversed(log_tail.splitlines()):
        if _COUNT.search(line) or "no tests ran" in line:
            found = _SESSION_TIME.search(line)
            return float(found.group(1)) if found else None
    return None


def real_time_s(text: str) -> float | None:
    """The wall time a `time` printed last: bash's `real 20m55.371s` line or GNU time's `-v` line
    (`Elapsed (wall clock) time (h:mm:ss or m:ss): 1:40:12`), in seconds; None when there is neither."""
    found = _REAL.findall(text) or _GNU_ELAPSED.findall(text)
    if not found:
        return None
    hours, minutes, seconds = found[-1]
    return round(int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds), 2)


def covered_s(intervals: Iterable[tuple[float, float]]) -> float:
    """How long at least one of the `(start, end)` intervals was open: their union's length, so two runs at
    the same time count once."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _session_intervals(runs: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """Each run's pytest session as `(start, end)` epoch seconds from its results' meta, None if one lacks them."""
    spans = [((run.get("meta") or {}).get("session_started_at"), (run.get("meta") or {}).get("session_finished_at"))
             for run in runs.values()]
    return None if any(a is None or b is None for a, b in spans) else [(float(a), float(b)) for a, b in spans]


def _process_intervals(runs: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """Each pytest process as `(start, end)` epoch seconds (`runs.*.started_at` + `duration_s`), None if one
    lacks its start."""
    if any(run.get("started_at") is None for run in runs.values()):
        return None
    return [(float(run["started_at"]), float(run["started_at"]) + float(run.get("duration_s") or 0.0))
            for run in runs.values()]


def cell_breakdown(record: Mapping[str, Any], wall_s: float | None = None,
                   extra_sessions: Sequence[tuple[float, float]] = ()) -> dict[str, Any]:
    """Where a cell's time went, from its `matrix.json` record (docs/matrix-schema.md).

    `wall_s` is the cell's wall time measured from outside (a whole `nox -s "cell(ID)"` process); without it
    the record's own `duration_s` (`kvmatrix.run.cell.run_cell`: install, freeze, both pytest runs, the JSON) is
    the total. The two registration runs may overlap in time (`KVCC_MODES_AT_ONCE`), so sessions and
    processes are counted as wall-clock time covered by at least one of them, from their recorded start and end
    times; records without those times (runs one after another) fall back to the sums of their durations.
    `extra_sessions` are the `(start, end)` sessions of pytest runs the record does not stamp (the client
    environments' own suite runs and every re-run, kvmatrix.run.clients / reruns; see `unrecorded_sessions`):
    they count as time inside pytest sessions and processes (their processes' start-up before the session is
    not stamped anywhere, so it stays outside).
    Returned, in seconds unless named `_pct`:

    - `tests_s`: the sum of every test's setup + call + teardown (`runs.*.tests[*].duration_s`);
    - `pytest_session_s`: wall time inside pytest sessions (from the session's start, so the xdist worker's
      start-up, collection and the tests), None when a run recorded no session (it crashed);
    - `pytest_process_s`: wall time inside pytest processes;
    - `runs_overlap`: whether the two runs' sessions overlapped in time;
    - `overhead_s` / `overhead_pct`: total minus the time inside pytest sessions (the issue's "harness
      overhead": the cell's wall time while no suite was running);
    - `outside_pytest_s` / `outside_pytest_pct`: total minus the time inside pytest processes;
    - `parts`: the overhead split into nox (start and venv), install, freeze and record, and the pytest
      processes outside their sessions (interpreter start, plugin imports, `pytest_configure`); plus
      `collection_and_between_tests_s`, inside the sessions but outside the tests (None when runs overlap,
      since the test durations then add up past the wall time).
    """
    runs = record.get("runs") or {}
    run_cell_s = float(record.get("duration_s") or 0.0)
    total = float(wall_s) if wall_s is not None else run_cell_s
    install_s = float(record.get("install_duration_s") or 0.0)
    durations = [float(run.get("duration_s") or 0.0) for run in runs.values()]
    processes = _process_intervals(runs)
    process_s = covered_s([*processes, *extra_sessions]) if processes is not None else sum(durations)
    sessions = _session_intervals(runs)
    if sessions is not None:
        session_s: float | None = covered_s([*sessions, *extra_sessions])
        overlap = covered_s(sessions) < sum(end - start for start, end in sessions) - 0.5
    else:  # records from before the stamps: pytest's summary lines, runs one after another
        session_sums = [pytest_session_s(run.get("log_tail", "")) for run in runs.values()]
        session_s = None if None in session_sums else sum(s for s in session_sums if s is not None)
        overlap = False
    tests_s = sum(float(t.get("duration_s") or 0.0) for run in runs.values() for t in run.get("tests", []))
    inside_s = session_s if session_s is not None else min(tests_s, process_s)
    parts = {
        "nox_start_and_venv_s": None if wall_s is None else total - run_cell_s,
        "install_s": install_s,
        "freeze_and_record_s": run_cell_s - install_s - process_s,
        "interpreter_imports_conftest_s": process_s - inside_s,
        "collection_and_between_tests_s": None if session_s is None or overlap else session_s - tests_s,
    }
    return {
        "id": record.get("id"),
        "status": record.get("status"),
        "total_s": round(total, 2),
        "run_cell_s": round(run_cell_s, 2),
        "tests_s": round(tests_s, 2),
        "pytest_session_s": None if session_s is None else round(session_s, 2),
        "pytest_process_s": round(process_s, 2),
        "runs_overlap": overlap,
        "overhead_s": round(total - inside_s, 2),
        "overhead_pct": percent(total - inside_s, total),
        "outside_pytest_s": round(total - process_s, 2),
        "outside_pytest_pct": percent(total - process_s, total),
        "parts": {name: None if value is None else round(value, 2) for name, value in parts.items()},
    }


def unrecorded_sessions(results: Iterable[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """The `(start, end)` pytest sessions of the results files a cell's runs left in its work dir
    (`<id>/**/<mode>.json`, the recorder's output: `session_started_at` / `session_finished_at`); those of the
    record's own runs come back too, which `covered_s` counts once."""
    return [(float(found["session_started_at"]), float(found["session_finished_at"])) for found in results
            if found.get("session_started_at") is not None and found.get("session_finished_at") is not None]


def totals(breakdowns: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several cells' breakdowns added up (the percentages recomputed from the sums)."""
    rows = list(breakdowns)
    keys = ("total_s", "tests_s", "pytest_process_s", "overhead_s", "outside_pytest_s")
    summed: dict[str, Any] = {key: round(sum(float(row[key]) for row in rows), 2) for key in keys}
    summed["overhead_pct"] = percent(summed["overhead_s"], summed["total_s"])
    summed["outside_pytest_pct"] = percent(summed["outside_pytest_s"], summed["total_s"])
    summed["cells"] = len(rows)
    return summed


def growth(walls: Mapping[int, float]) -> list[dict[str, Any]]:
    """For wall times by number of cells: each count's seconds per cell and its time relative to one cell
    (or to the smallest count measured)."""
    if not walls:
        return []
    base_n = min(walls)
    per_cell_base = walls[base_n] / base_n
    return [
        {"cells": n, "wall_s": round(walls[n], 2), "per_cell_s": round(walls[n] / n, 2),
         "relative_to_one_cell": round(walls[n] / per_cell_base, 2)}
        for n in sorted(walls)
    ]
