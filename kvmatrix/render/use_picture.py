"""A picture per use: a small transformers x torch grid (minor releases, from its since summary in uses.json),
each square coloured by the pair's answer and lettered (so it reads without colour too), untested pairs left
blank, the since line and a legend under it. Written as `uses/<key>.svg` beside matrix.md (the page draws the
same grid itself from uses.json: kvmatrix.render.page_uses)."""

from __future__ import annotations

import textwrap
from html import escape
from typing import Any

from kvmatrix.record.answers import GROUPS, NOT_RUN, PICTURES, UNTESTED, version
from kvmatrix.record.uses import BROKEN, KNOWN_LIMITATION, WITH_COMPAT, WITH_MASK, WITH_TICO, WORKS
from kvmatrix.record.verdicts import NA

COLOURS = {
    WORKS: "#1a7f37",
    WITH_COMPAT: "#0969da",
    WITH_MASK: "#8250df",
    WITH_TICO: "#953800",
    KNOWN_LIMITATION: "#d4a72c",
    BROKEN: "#cf222e",
    NA: "#d0d7de",
    NOT_RUN: "#6e7781",
    UNTESTED: "#ffffff",
}
"""Fill of each group of kvmatrix.record.answers.GROUPS (untested: blank, outlined)."""
LETTERS = {WORKS: "ok", WITH_COMPAT: "C", WITH_MASK: "M", WITH_TICO: "T", KNOWN_LIMITATION: "KL", BROKEN: "x",
           NA: "–", NOT_RUN: "?", UNTESTED: ""}
"""The letter inside each square and legend swatch."""
DARK_INK = frozenset({UNTESTED, NA, KNOWN_LIMITATION})
"""Groups whose fill is light: their letter is dark (contrast of at least 4.5:1)."""
SQUARE, GAP, LEFT = 28, 2, 64
LINE, LEGEND_WIDTH, LEGEND_COLUMNS = 15, 215, 2
CHARACTER_WIDTH = 6.4
"""About how wide an 11 px character of a sans-serif font is, to wrap the since line inside the picture."""


def picture_svg(use: dict[str, Any]) -> str:
    """The SVG of one use of uses.json: rows are transformers minors (newest on top), columns torch minors."""
    grid = use["since"]["by_transformers"]
    rows = sorted(grid, key=version, reverse=True)
    columns = sorted({torch for row in grid.values() for torch in row}, key=version)
    width = max(LEFT + len(columns) * (SQUARE + GAP) + 8, LEGEND_COLUMNS * LEGEND_WIDTH + 8)
    summary = textwrap.wrap(use["since"]["line"], int((width - 8) / CHARACTER_WIDTH))
    top = 26 + LINE  # the title, the torch labels' line, then the grid
    grid_bottom = top + len(rows) * (SQUARE + GAP)
    legend_top = grid_bottom + 18 + LINE * len(summary)
    height = legend_top + LINE * -(-len(GROUPS) // LEGEND_COLUMNS) + 6
    key = escape(use["key"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{key}" '
             'font-family="system-ui, sans-serif" font-size="11">',
             f'<title id="t-{key}">{escape(use["title"])}: {escape(use["since"]["line"])}</title>',
             '<rect width="100%" height="100%" fill="#ffffff"/>',
             f'<text x="4" y="15" font-weight="bold">{escape(use["title"])}</text>']
    parts.append(f'<text x="{LEFT - 6}" y="{top - 5}" text-anchor="end" fill="#57606a">torch</text>')
    parts += [f'<text x="{LEFT + index * (SQUARE + GAP) + SQUARE // 2}" y="{top - 5}" text-anchor="middle" '
              f'font-size="10">{escape(torch)}</text>' for index, torch in enumerate(columns)]
    for row_index, tf in enumerate(rows):
        y = top + row_index * (SQUARE + GAP)
        parts.append(f'<text x="{LEFT - 6}" y="{y + SQUARE // 2 + 4}" text-anchor="end">tf {escape(tf)}</text>')
        parts += [_square(LEFT + index * (SQUARE + GAP), y, SQUARE, grid[tf].get(torch, UNTESTED),
                          f"transformers {tf}, torch {torch}: {grid[tf].get(torch, UNTESTED)}")
                  for index, torch in enumerate(columns)]
    lines = "".join(f'<tspan x="4" dy="{0 if number == 0 else LINE}">{escape(text)}</tspan>'
                    for number, text in enumerate(summary))
    parts.append(f'<text x="4" y="{grid_bottom + 10 + LINE - 4}">{lines}</text>')
    for index, found in enumerate(GROUPS):
        x, y = 4 + (index % LEGEND_COLUMNS) * LEGEND_WIDTH, legend_top + (index // LEGEND_COLUMNS) * LINE
        parts.append(_square(x, y, LINE - 2, found, found) + f'<text x="{x + LINE + 3}" y="{y + LINE - 5}">'
                     f"{escape(found)}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _square(x: int, y: int, size: int, found: str, label: str) -> str:
    """One square of `found`'s colour and letter, with a tooltip."""
    fill = COLOURS.get(found, COLOURS[NOT_RUN])
    ink = "#24292f" if found in DARK_INK else "#ffffff"
    outline = ' stroke-width="1" stroke-dasharray="3 2"' if found == UNTESTED else ' stroke-width="0.5"'
    font = 10 if size >= SQUARE else 8
    return (f'<g><title>{escape(label)}</title><rect x="{x}" y="{y}" width="{size}" height="{size}" '
            f'fill="{fill}" stroke="#8c959f"{outline}/>'
            f'<text x="{x + size / 2:g}" y="{y + size / 2 + font * 0.35:g}" text-anchor="middle" fill="{ink}" '
            f'font-size="{font}">{escape(LETTERS.get(found, "?"))}</text></g>')


def pictures(document: dict[str, Any]) -> dict[str, str]:
    """File name (`uses/<key>.svg`) -> SVG text, for every use of a uses.json document."""
    return {f"{PICTURES}/{use['key']}.svg": picture_svg(use) for use in document["uses"]}
