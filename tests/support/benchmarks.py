"""Benchmark results and cell records for the tests of benchmarks/ (no measurement is taken)."""

from __future__ import annotations

from typing import Any

from benchmarks.analysis import cell_breakdown, summarize, totals
from tests.support.records import build_cell, record


def a_run(process_s: float, summary: str, test_durations: list[float]) -> dict[str, Any]:
    """One `runs.<mode>` entry as `kvmatrix.run.process.pytest_run.run_suites` records it."""
    return {"exit_code": 1, "duration_s": process_s, "log_tail": f"FAILED suites/x.py::t - boom\n{summary}",
            "tests": [record("export", f"t{i}", "pass", duration_s=d) for i, d in enumerate(test_durations)]}


RECORD = build_cell("4.57.6", "2.13.0", {
    "without": a_run(45.0, "3 failed, 5 passed, 1 xfailed, 17 warnings in 40.00s", [10.0, 20.0]),
    "with": a_run(50.0, "10 failed, 42 passed in 45.50s (0:00:45)", [30.0, 10.0]),
}, install_duration_s=1.0, duration_s=100.0)
"""A cell record of the two registration runs whose times the analysis splits."""


def env_runs(total: float, venv: float) -> dict[str, Any]:
    return {part: summarize([value]) for part, value in
            (("total_s", total), ("venv_s", venv), ("install_s", total - venv))}


RESULTS = {
    "command": "python3 benchmarks/harness.py --out benchmarks/RESULTS.md", "started_at": "2026-11-25T10:00:00Z",
    "bench_wall_s": 1500.0, "json_name": "RESULTS.json",
    "machine": {"cpu": "Some CPU", "cores": 2, "memory_gib": 23.4, "gpu": "none", "os": "Linux", "python": "3.11.7",
                "nox": "nox 2026.10.20", "load_average_at_start": [0.1, 0, 0], "load_average_at_end": [1.9, 0, 0]},
    "envs": {"requirements": ["torch==2.13.0"], "uv_cold": env_runs(30.0, 0.1),
             "uv_warm": {**env_runs(2.0, 0.05), "env": {"files": 20000, "pyc": 0, "bytes": 2**30}},
             "pip_cold": env_runs(90.0, 3.0), "pip_warm": env_runs(60.0, 3.0)},
    "link_floor": {"total_s": summarize([0.5]), "files": 20000, "command": "cp -al"},
    "nox_cell": {"command": "nox -s cell(x)", **cell_breakdown(RECORD, wall_s=110.0)},
    "modes": {"cell": "tf4.57.6-torch2.13.0", "targets": ["suites"], "verdicts_differing": [],
              "rows": [{"at_once": 1, "wall_s": 125.0, "process_s": {"without": 54.0, "with": 70.0},
                        "tests_s": 93.0, "tests": 110},
                       {"at_once": 2, "wall_s": 75.0, "process_s": {"without": 55.0, "with": 74.0},
                        "tests_s": 95.0, "tests": 110}]},
    "matrix_run": {"log": "/tmp/m.log", "wall_s": 1800.0, "cells_dir": "build/cells", "cells": [cell_breakdown(RECORD)],
                   "totals": totals([cell_breakdown(RECORD)])},
}


MEASURED_BY_HAND = {"title": "One intra-op thread per process", "date": "2026-12-04", "commit": "8e9326a",
           "command": "python3 -m nox -s \"cell(x)\"", "conditions": "nothing else running.",
           "columns": ["threads", "wall"], "rows": [["2", "100.9 s"], ["1", "69.4 s"]], "finding": "Faster."}
