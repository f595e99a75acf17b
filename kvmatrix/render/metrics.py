"""The Metrics section of matrix.md: per cell and compiled decode loop, the numbers a cell recorded
(kvmatrix.record.metrics), every one escaped as text, since a cell's tests write them."""

from __future__ import annotations

from typing import Any

from kvmatrix.render.text import markdown_text

SHOWN_FIELDS = ("backend", "compile_s", "recompiles_after_first_step", "graph_breaks", "eager_tokens_per_s",
                "compiled_tokens_per_s")


def _short(name: str) -> str:
    """A compiled decode loop's test name without the words every such test has."""
    return name.removeprefix("test_").replace("_decode_loop", "").replace("_matches_eager", "").replace(
        "_compiles_once", ""
    )


def render_metrics(matrix: dict[str, Any]) -> str:
    """A Markdown section: one row per cell and compiled decode loop (with the torch.compile backend its
    seconds are of: aot_eager and inductor times are not comparable), with the export median beside it. Names
    and values are plain text (kvmatrix.render.text.markdown_text): a cell's tests record them."""
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
            row = [cell["id"], export_text, _short(name), *(values.get(field, "—") for field in SHOWN_FIELDS)]
            lines.append("| " + " | ".join(markdown_text(value) for value in row) + " |")
    return "\n".join(lines)
