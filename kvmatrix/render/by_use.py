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
from kvmatrix.record.verdicts import ERROR, FLAKY, INFRA, NA, NOT_INSTALLABLE, SETUP
from kvmatrix.render.text import markdown_text
from kvmatrix.render.use_picture import picture_svg

LABELS = {
    WORKS: "✅ works",
    WITH_COMPAT: "🔧 works with",
    WITH_MASK: "🎭 works with",
    WITH_TICO: "🧩 works with",
    FLAKY: "🎲 flaky",
    KNOWN_LIMITATION: "⚠️ known limitation",
    SETUP_FAILS: "🧰 setup fails",
    BROKEN: "❌ broken",
    NA: "➖ n/a",
    NOT_INSTALLABLE: "🚫 not-installable",
    INFRA: "🌐 infra",
    ERROR: "💥 error",
    SETUP: "🧰 client not importable",
}
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
    text = LABELS.get(word, word)
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
    """The by-use section of the page: the table (first column kept in view while it scrolls sideways), each
    chip opening the routes behind it, and per use a `#use-<key>` section with its picture and since line."""
    pairs = uses["pairs"]
    head = "".join(f'<th scope="col"><a href="#cell-{escape(pair)}">{escape(pair)}</a></th>' for pair in pairs)
    rows = []
    for use in uses["uses"]:
        chips = []
        for pair in pairs:
            found = use["answers"][pair]
            css = "u-" + found["answer"].replace(" ", "-").replace("/", "").replace("'", "")
            routes = "; ".join(f"{route}: {verdict}" + (f" ({cause})" if cause else "")
                               for route, verdict, cause, _ in found["routes"])
            chips.append(f'<td><span class="chip {escape(css)}" title="{escape(routes)}">'
                         f"{escape(chip_text(found))}</span></td>")
        rows.append(f'<tr data-use="{escape(use["key"])}"><th scope="row"><a href="#use-{escape(use["key"])}">'
                    f'{escape(use["title"])}</a></th>{"".join(chips)}</tr>')
    since = "".join(
        f'<details class="since" id="use-{escape(use["key"])}"><summary><strong>{escape(use["title"])}</strong>: '
        f'{escape(use["since"]["line"])}</summary>{picture_svg(use, inline=True)}'
        f'<p>Recommended: {escape(recommended_text(use["since"]))}</p></details>'
        for use in uses["uses"])
    return (f'<section id="by-use"><h2>By use</h2><p>{escape(INTRO).replace("**", "").replace("`", "")}</p>'
            f'<div class="scroll"><table id="by-use-table"><thead><tr><th scope="col">use</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            f'<h3>Since which release</h3><p>Read from every published matrix together '
            f'({escape(", ".join(uses["sources"]))}; each pair once, its newest record).</p>{since}</section>')
