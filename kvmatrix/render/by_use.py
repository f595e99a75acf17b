"""Render the by-use view (kvmatrix.record.uses): one row per use, one column per pair, each chip saying
works / works with compat / works with the vmap-free mask / flaky / setup fails / broken (cause, upstream
issue) / n/a, and per use the recommended pins. The first thing in matrix.md, the README table and the page."""

from __future__ import annotations

from html import escape
from typing import Any

from kvmatrix.record.uses import (
    BROKEN,
    SETUP_FAILS,
    USES,
    WITH_COMPAT,
    WITH_MASK,
    WORKS,
    Use,
    answer,
    recommended,
    tico_answer,
)
from kvmatrix.record.verdicts import ERROR, FLAKY, INFRA, NA, NOT_INSTALLABLE

LABELS = {
    WORKS: "✅ works",
    WITH_COMPAT: "🔧 with compat",
    WITH_MASK: "🎭 with the vmap-free mask",
    FLAKY: "🎲 flaky",
    SETUP_FAILS: "🧰 setup fails",
    BROKEN: "❌ broken",
    NA: "➖ n/a",
    NOT_INSTALLABLE: "🚫 not-installable",
    INFRA: "🌐 infra",
    ERROR: "💥 error",
}
INTRO = ("Each row is something you may need to do; each chip says whether it works in that (transformers, "
         "torch) pair: **works** (transformers alone), **with compat** (after `compat.register()`), "
         "**with the vmap-free mask** (after `compat.use_export_mask(model)`, docs/mask.md), **flaky**, "
         "**setup fails** (the test's own eager step failed), **broken** (with its cause and upstream issue), "
         "**n/a** (no such feature in the pair). Where a pair also ran the suites under TICO's own cache "
         "registration, **TICO:** gives the answer that way. The suite grid below is the detail view.")


def _chip_text(use: Use, cell: dict[str, Any]) -> str:
    """`use`'s answer in `cell` as a chip's text: the label, a broken use's cause, the upstream issue, and
    where the cell ran TICO's registration, the use's answer under it."""
    found = answer(use, cell)
    text = LABELS.get(found.answer, found.answer)
    if found.answer == BROKEN and found.cause:
        text += f" ({found.cause})"
    if found.upstream:
        text += f" {found.upstream}"
    with_tico = tico_answer(use, cell)
    return text + (f" · TICO: {with_tico}" if with_tico else "")


def _pins_line(use: Use, cells: list[dict[str, Any]]) -> str:
    """The recommendation of `use` as one sentence."""
    best = recommended(use, cells)
    parts = []
    if best["plain"]:
        parts.append(f"newest pair where it works with transformers alone: `{best['plain']}`")
    if best["with_compat"]:
        parts.append(f"newest with `compat.register()`: `{best['with_compat']}`")
    if not best["by_transformers"]:
        return "no pair of this matrix"
    releases = "; ".join(
        f"tf{release}: torch " + ", ".join(entry["torch"] + ("+compat" if entry["needs_compat"] else "")
                                            + ("+mask" if entry["needs_mask"] else "")
                                         for entry in working)
        for release, working in best["by_transformers"].items())
    where = f"works in — {releases}"
    return "; ".join(parts) + f" ({where})" if parts else where


def by_use_markdown(matrix: dict[str, Any], level: int = 2) -> str:
    """The `## By use` section of matrix.md (a `level` 3 heading in the README): the table, then the
    recommended pins."""
    cells = matrix["cells"]
    head = "| use | " + " | ".join(f"`{cell['id']}`" for cell in cells) + " |"
    rule = "| --- |" + " --- |" * len(cells)
    rows = [f"| {use.title} | " + " | ".join(_chip_text(use, cell) for cell in cells) + " |" for use in USES]
    pins = [f"- **{use.title}**: {_pins_line(use, cells)}" for use in USES]
    heading = "#" * level
    return "\n".join([f"{heading} By use", "", INTRO, "", head, rule, *rows, "",
                      f"{heading}# Recommended pins", "", *pins])


def by_use_html(matrix: dict[str, Any]) -> str:
    """The by-use section of the page: a table (first column kept in view while it scrolls sideways) and
    the recommended pins."""
    cells = matrix["cells"]
    head = "".join(f'<th scope="col"><a href="#cell-{escape(cell["id"])}">{escape(cell["id"])}</a></th>'
                   for cell in cells)
    rows = []
    for use in USES:
        chips = []
        for cell in cells:
            found = answer(use, cell)
            css = "u-" + found.answer.replace(" ", "-").replace("/", "")
            chips.append(f'<td><span class="chip {escape(css)}">{escape(_chip_text(use, cell))}</span></td>')
        rows.append(f'<tr data-use="{escape(use.key)}"><th scope="row">{escape(use.title)}</th>{"".join(chips)}</tr>')
    pins = "".join(f"<li><strong>{escape(use.title)}</strong>: {escape(_pins_line(use, cells))}</li>" for use in USES)
    return (f'<section id="by-use"><h2>By use</h2><p>{escape(INTRO).replace("**", "")}</p>'
            f'<div class="scroll"><table id="by-use-table"><thead><tr><th scope="col">use</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            f'<details id="recommended-pins"><summary>Recommended pins</summary><ul>{pins}</ul></details></section>')
