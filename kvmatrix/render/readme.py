"""The README's generated block: what to pin for the uses people ask about most, from uses.json (its
recommended pair, what that pair's route requires, and the since line), so a newcomer reads the answer on
the first screen; every other answer is one link away (matrix.md, the page)."""

from __future__ import annotations

from typing import Any

from kvmatrix.render.text import markdown_text

MOST_ASKED = (
    "executorch", "wrapper", "export-dynamiccache-non-strict-dynamic", "export-dynamiccache-strict-dynamic",
    "export-staticcache-strict-static", "export-staticcache-non-strict-static", "saveload-staticcache",
    "compile-staticcache", "compile-dynamiccache", "tico",
)
"""The uses of the README's table, in its order: lowering and exporting a decode step as exporters do, then
saving it, compiling a decode loop, and converting with TICO (every use is in matrix.md and on the page)."""


def what_to_pin(uses: dict[str, Any]) -> str:
    """The README's table: per most-asked use, the newest published pair where it works, what to call
    there, and since which releases it works (from every published matrix together)."""
    by_key = {use["key"]: use for use in uses["uses"]}
    rows = []
    for key in MOST_ASKED:
        use = by_key.get(key)
        if use is None:
            continue
        best = use["since"]["recommended"]
        pair = f"`{markdown_text(best['pair'])}`" if best else "none published"
        calls = ", ".join(f"`{markdown_text(call)}`" for call in best["requires"]) if best and best["requires"] \
            else ("nothing (transformers alone)" if best else "—")
        rows.append(f"| {markdown_text(use['title'])} | {pair} | {calls} | {markdown_text(use['since']['line'])} |")
    return "\n".join(["| you want to | newest pair where it works | what to call there | since which release |",
                      "| --- | --- | --- | --- |", *rows])
