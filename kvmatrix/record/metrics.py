"""Per-cell numbers from the tests' recorded metrics: export and compile seconds, recompile counts, and
eager vs compiled decode throughput on the tiny model. Recorded and shown, never asserted against a
threshold. They come from the run with registration, where most exports and compiles get furthest.
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


def _short(name: str) -> str:
    return name.removeprefix("test_").replace("_decode_loop", "").replace("_matches_eager", "").replace(
        "_compiles_once", ""
    )


def render_metrics(matrix: dict[str, Any]) -> str:
    """A Markdown section: one row per cell and compiled decode loop (with the torch.compile backend its
    seconds are of: aot_eager and inductor times are not comparable), with the export median beside it."""
    lines = [
        "## Metrics (with registration)",
        "",
        "Tiny 2-layer Llama on CPU; seconds and tokens/s are this machine's, for comparing cells, not hardware.",
        "",
        "| cell | export s (median of n) | decode loop | backend | compile s | recompiles after step 1 "
        "| graph breaks | eager tok/s | compiled tok/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in matrix["cells"]:
        metrics = cell.get("metrics") or {}
        export = metrics.get("export_s")
        export_text = f"{export['median']} ({export['n']})" if export else "—"
        loops = metrics.get("compile") or {"—": {}}
        for name, values in loops.items():
            row = [cell["id"], export_text, _short(name)] + [
                str(values.get(field, "—")) for field in
                ("backend", "compile_s", "recompiles_after_first_step", "graph_breaks", "eager_tokens_per_s",
                 "compiled_tokens_per_s")
            ]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
