"""A picture per use: a small transformers x torch grid (minor releases, from its since summary in uses.json),
each square coloured by the pair's answer, untested pairs left blank, the since line under it. Written as
`uses/<key>.svg` beside matrix.md and drawn inline on the page."""

from __future__ import annotations

from html import escape
from typing import Any

from kvmatrix.record.answers import GROUPS, PICTURES, UNTESTED

COLOURS = {
    "works": "#1a7f37",
    "works with compat": "#0969da",
    "works with the vmap-free mask": "#8250df",
    "works with TICO's registration": "#1b7c83",
    "known limitation": "#bf8700",
    "broken": "#cf222e",
    "n/a": "#afb8c1",
    "not run": "#6e7781",
    UNTESTED: "#ffffff",
}
"""Fill of each group of kvmatrix.record.answers.GROUPS (untested: blank, outlined)."""
SHORT = {"works": "ok", "works with compat": "C", "works with the vmap-free mask": "M",
         "works with TICO's registration": "T", "known limitation": "KL", "broken": "x", "n/a": "–",
         "not run": "?", UNTESTED: ""}
"""The letter inside each square, so the picture reads without colour too."""
SQUARE, GAP, LEFT, TOP = 26, 2, 58, 34
LEGEND_ROW = 18


def picture_svg(use: dict[str, Any]) -> str:
    """The SVG of one use of uses.json: rows are transformers minors (newest on top), columns torch minors."""
    grid = use["since"]["by_transformers"]
    rows = sorted(grid, key=_version_key, reverse=True)
    columns = sorted({torch for row in grid.values() for torch in row}, key=_version_key)
    width = max(LEFT + len(columns) * (SQUARE + GAP) + 8, 560)
    grid_bottom = TOP + len(rows) * (SQUARE + GAP)
    legend_top = grid_bottom + 34
    height = legend_top + LEGEND_ROW * ((len(GROUPS) + 2) // 3) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{escape(use["key"])}" '
             'font-family="system-ui, sans-serif" font-size="11">',
             f'<title id="t-{escape(use["key"])}">{escape(use["title"])}: {escape(use["since"]["line"])}</title>',
             '<rect width="100%" height="100%" fill="#ffffff"/>',
             f'<text x="4" y="14" font-weight="bold">{escape(use["title"])}</text>',
             f'<text x="{LEFT}" y="{TOP - 6}" fill="#57606a">torch →</text>']
    for index, torch in enumerate(columns):
        x = LEFT + index * (SQUARE + GAP) + SQUARE // 2
        parts.append(f'<text x="{x}" y="{TOP + len(rows) * (SQUARE + GAP) + 12}" text-anchor="middle">'
                     f'{escape(torch)}</text>')
    for row_index, tf in enumerate(rows):
        y = TOP + row_index * (SQUARE + GAP)
        parts.append(f'<text x="{LEFT - 6}" y="{y + SQUARE // 2 + 4}" text-anchor="end">tf {escape(tf)}</text>')
        for index, torch in enumerate(columns):
            found = grid[tf].get(torch, UNTESTED)
            parts.append(_square(LEFT + index * (SQUARE + GAP), y, found, f"transformers {tf}, torch {torch}: {found}"))
    parts.append(f'<text x="4" y="{grid_bottom + 26}">{escape(use["since"]["line"])}</text>')
    for index, found in enumerate(GROUPS):
        x, y = 4 + (index % 3) * 190, legend_top + (index // 3) * LEGEND_ROW
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{COLOURS[found]}" stroke="#57606a" '
                     f'stroke-width="0.5"/><text x="{x + 16}" y="{y}">{escape(found)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _square(x: int, y: int, found: str, label: str) -> str:
    """One pair's square with its group's colour, letter and a tooltip naming the pair and its answer."""
    fill = COLOURS.get(found, COLOURS["not run"])
    ink = "#24292f" if found in (UNTESTED, "n/a") else "#ffffff"
    outline = ' stroke-width="1" stroke-dasharray="3 2"' if found == UNTESTED else ' stroke-width="0.5"'
    return (f'<g><title>{escape(label)}</title><rect x="{x}" y="{y}" width="{SQUARE}" height="{SQUARE}" '
            f'fill="{fill}" stroke="#8c959f"{outline}/>'
            f'<text x="{x + SQUARE // 2}" y="{y + SQUARE // 2 + 4}" text-anchor="middle" fill="{ink}">'
            f'{escape(SHORT.get(found, "?"))}</text></g>')


def _version_key(text: str) -> tuple[int, ...]:
    """`4.57` -> (4, 57), for ordering minors."""
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def pictures(document: dict[str, Any]) -> dict[str, str]:
    """File name (`uses/<key>.svg`) -> SVG text, for every use of a uses.json document."""
    return {f"{PICTURES}/{use['key']}.svg": picture_svg(use) for use in document["uses"]}
