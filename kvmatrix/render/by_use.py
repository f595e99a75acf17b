"""Render the by-use view from uses.json (kvmatrix.record.answers): one row per use, one column per pair, each
chip giving the answer with what it requires (or, where no route works, its cause and upstream issue), then
per use its since line, its picture and the recommended pair. The first thing in matrix.md, the README table
and the page; nothing here computes an answer."""

from __future__ import annotations

from html import escape
from typing import Any

from kvmatrix.record.uses import (
    BROKEN,
    KNOWN_LIMITATION,
    SETUP_FAILS,
    WITH_COMPAT,
    WITH_MASK,
    WITH_TICO,
    WORKS,
)
from kvmatrix.record.verdicts import CELL_STATUSES, FLAKY, LABELS, NA, SETUP
from kvmatrix.render.page_uses import picture_legend, picture_placeholder
from kvmatrix.render.text import markdown_text

ANSWER_LABELS = {
    WORKS: "✅ works",
    WITH_COMPAT: "🔧 works with",
    WITH_MASK: "🎭 works with",
    WITH_TICO: "🧩 works with",
    FLAKY: LABELS[FLAKY],
    KNOWN_LIMITATION: "⚠️ known limitation",
    SETUP_FAILS: "🧰 setup fails",
    BROKEN: "❌ broken",
    **{status: LABELS[status] for status in (NA, *CELL_STATUSES[1:])},
    SETUP: "🧰 client not importable",
}
"""Each answer as a chip shows it, in the answer filter's order: a status as its verdict, but a client's setup."""
ANSWER_MEANINGS = {
    WORKS: "with transformers alone",
    WITH_COMPAT: "after compat.register()",
    WITH_MASK: "on the vmap-free mask of compat.use_export_mask(model), with compat.register() where listed",
    WITH_TICO: "only with TICO's own cache registration",
    FLAKY: "no route passes every time",
    KNOWN_LIMITATION: "no route passes; a documented upstream limitation",
    SETUP_FAILS: "the test's own eager step failed",
    BROKEN: "no route works",
}
"""What each answer of a use means, in a few words (kvcc check prints them, from compat/verified.json)."""
INTRO = ("Each row is something you may need to do; each chip answers it in that (transformers, torch) pair by "
         "its best working route and what that route requires: **works** (transformers alone), **works with** "
         "`compat.register()` and/or the vmap-free mask `compat.use_export_mask(model)` (docs/mask.md), "
         "**known limitation** (documented upstream), **flaky**, **setup fails** (the test's own eager step "
         "failed), **broken** (no route works; its cause and upstream issue), **n/a** (no such feature in the "
         "pair), or why the pair or its client did not run. Every route and its verdict is in `uses.json` and on "
         "the page; the suite grid below is the detail view.")


def chip_text(found: dict[str, Any]) -> str:
    """One answer of uses.json as plain text: its label and requirements, or the cause and upstream issue of
    a use that does not work."""
    word = found["answer"]
    text = ANSWER_LABELS.get(word, word)
    if word in (WITH_COMPAT, WITH_MASK, WITH_TICO):
        text += " " + " + ".join(found["requires"])
    elif word == WORKS and found["requires"]:
        text += ": " + ", ".join(found["requires"])
    if word in (BROKEN, FLAKY, SETUP_FAILS, KNOWN_LIMITATION) and found.get("cause"):
        text += f" ({found['cause']})"
    if found.get("upstream") and word not in (WORKS, WITH_COMPAT, WITH_MASK, WITH_TICO):
        text += f" {found['upstream']}"
    return text


def recommended_text(since: dict[str, Any]) -> str:
    """The use's recommended pins as one sentence."""
    best = since["recommended"]
    if best is None:
        return "no published pair"
    needs = f" with {' + '.join(best['requires'])}" if best["requires"] else ""
    text = f"{best['pair']}{needs}"
    if best["plain"]:
        text += f"; newest with transformers alone: {best['plain']}"
    return text


def by_use_markdown(uses: dict[str, Any], level: int = 2, pictures: str = "uses") -> str:
    """The `## By use` section of matrix.md (a `level` 3 heading in the README, whose `pictures` folder is
    `reports/uses`): the table, then each use's since line, picture and recommended pins."""
    pairs = uses["pairs"]
    head = "| use | " + " | ".join(f"`{markdown_text(pair)}`" for pair in pairs) + " |"
    rule = "| --- |" + " --- |" * len(pairs)
    rows = [f"| {markdown_text(use['title'])} | "
            + " | ".join(markdown_text(chip_text(use["answers"][pair])) for pair in pairs) + " |"
            for use in uses["uses"]]
    since = [f"- **{markdown_text(use['title'])}** ([picture]({pictures}/{use['key']}.svg)): "
             f"{markdown_text(use['since']['line'])}. Recommended: {markdown_text(recommended_text(use['since']))}."
             for use in uses["uses"]]
    heading = "#" * level
    sources = ", ".join(uses["sources"])
    return "\n".join([f"{heading} By use", "", INTRO, "", head, rule, *rows, "",
                      f"{heading}# Since which release", "",
                      f"Read from every published matrix together ({markdown_text(sources)}; each pair once, its "
                      "newest record).", "", *since])


def by_use_html(uses: dict[str, Any]) -> str:
    """The by-use section of the page: the table's element, which the page's script draws from the page data
    (kvmatrix.render.page_answers: pairs newest first, its header row and first column kept in view while it
    scrolls in its own box, each chip answering with transformers alone and compat.register() and, behind the
    page's TICO toggle, TICO's registration beside it, each with its routes as a tooltip and its answer as
    data for the filters); then per use a `#use-<key>` section with its since line, its picture (drawn by the
    page's script when opened) and the recommended pair."""
    since = "".join(
        f'<details class="since" id="use-{escape(use["key"])}" data-use="{escape(use["key"])}"><summary><strong>'
        f'{escape(use["title"])}</strong>: {escape(use["since"]["line"])}</summary>'
        f'{picture_placeholder(use)}'
        f'<p>Recommended: {escape(recommended_text(use["since"]))}</p></details>'
        for use in uses["uses"])
    return (f'<section id="by-use"><h2>By use</h2><details class="intro"><summary>What each chip says</summary>'
            f'<p>{escape(INTRO).replace("**", "").replace("`", "")}</p></details>'
            '<div class="scroll"><table id="by-use-table" class="answers"></table></div>'
            f'<h3>Since which release</h3><p>Read from every published matrix together '
            f'({escape(", ".join(uses["sources"]))}; each pair once, its newest record). Open a use for its '
            f"picture: transformers minors down, torch minors across, each square lettered:</p>{picture_legend()}"
            f"{since}</section>")
