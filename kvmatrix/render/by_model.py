"""Render the by-model view from uses.json's `families` (kvmatrix.record.answers): one row per model family,
one column per pair, each chip the family's answer by its best route (transformers' export wrapper, a
DynamicCache decode step, a compiled StaticCache loop; each with transformers alone or compat.register()),
read by the same rules as a use's. After the by-use view in matrix.md and on the page; nothing here computes
an answer. A uses.json written before the families has none: the view then says so."""

from __future__ import annotations

from typing import Any

from kvmatrix.render.by_use import chip_text
from kvmatrix.render.text import markdown_text

INTRO = ("Each row is a model family (transformers' model_type); each chip answers, in that pair, whether its "
         "cache exports and compiles by the family's best working route: transformers' export wrapper "
         "(strict), a decode step with a DynamicCache input (non-strict) or a compiled StaticCache decode "
         "loop, each with transformers alone or `compat.register()`, read as a use's answer is.")
NONE_YET = "No model family has an answer in this matrix yet."


def by_model_markdown(uses: dict[str, Any], level: int = 2) -> str:
    """The `## By model` section of matrix.md: one row per family, one column per pair, each chip as compact as
    the by-use table's."""
    families = uses.get("families") or []
    heading = "#" * level
    if not families:
        return "\n".join([f"{heading} By model", "", NONE_YET])
    pairs = uses["pairs"]
    head = "| model | " + " | ".join(f"`{markdown_text(pair)}`" for pair in pairs) + " |"
    rule = "| --- |" + " --- |" * len(pairs)
    rows = [f"| {markdown_text(family['title'])} (`{markdown_text(family['key'])}`) | "
            + " | ".join(markdown_text(chip_text(family["answers"][pair])) for pair in pairs) + " |"
            for family in families]
    return "\n".join([f"{heading} By model", "", INTRO, "", head, rule, *rows])


def by_model_html(uses: dict[str, Any]) -> str:
    """The by-model section of the page: the table's element, which the page's script draws from the page
    data (kvmatrix.render.page_answers) as it draws the by-use table, each family's row at `#model-<key>`."""
    intro = INTRO.replace("`", "")
    empty = "" if uses.get("families") else f"<p>{NONE_YET}</p>"
    return (f'<section id="by-model"><h2>By model</h2><p>{intro}</p>{empty}'
            '<div class="scroll"><table id="by-model-table" class="answers"></table></div></section>')
