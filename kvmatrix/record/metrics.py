"""Per-cell numbers from the tests' recorded metrics: export and compile seconds, recompile counts, and
eager vs compiled decode throughput on the tiny model. Recorded and shown (kvmatrix.render.metrics), never
asserted against a threshold. They come from the run with registration, where most exports and compiles get
furthest.
"""

from __future__ import annotations

from statistics import median
from typing import Any

COMPILE_FIELDS = (
    "backend", "compile_s", "graphs_first_step", "recompiles_after_first_step", "graph_breaks",
    "eager_tokens_per_s", "compiled_tokens_per_s",
)


def cell_metrics(runs: dict[str, Any]) -> dict[str, Any]:
    """`{"export_s": {"median", "max", "n"}, "compile": {test name: {field: value}}}` from the "with" run."""
    tests = runs.get("with", {}).get("tests", [])
    export_times = [t["metrics"]["export_s"] for t in tests if "export_s" in t.get("metrics", {})]
    compile_runs = {
        t["name"]: {field: t["metrics"][field] for field in COMPILE_FIELDS if field in t["metrics"]}
        for t in tests
        if t.get("suite") == "compile" and "compile_s" in t.get("metrics", {})
    }
    metrics: dict[str, Any] = {"compile": compile_runs}
    if export_times:
        metrics["export_s"] = {"median": round(median(export_times), 3), "max": max(export_times), "n": len(export_times)}
    return metrics
