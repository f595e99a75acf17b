"""The page's answer tables (by use, by model) as data its script draws (kvmatrix/render/page/page.js): the
pairs newest first and, per row, per pair, each chip's answer, label and tooltip, every distinct string
written once (in `strings`) and referred to by its index. Written as HTML, the same chips repeated their
labels and tooltips in every cell and made most of the page's bytes; nothing here computes an answer.
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.uses import TICO_CALL, WITH_TICO, WORKS
from kvmatrix.render.by_use import chip_text
from kvmatrix.render.page_data import Strings
from kvmatrix.render.page_uses import newest_first, routes_summary, tico_side, without_tico

BY_USE_TABLE = "by-use-table"
BY_MODEL_TABLE = "by-model-table"


def chip_css(answer: str) -> str:
    """The CSS class of an answer's chip (page.css colours each): `u-` and the answer as a class name."""
    return "u-" + answer.lower().replace(" ", "-").replace("/", "").replace("'", "")


def _chip(found: dict[str, Any], tico: bool) -> tuple[str, str, str]:
    """(answer, label, tooltip) of one chip: the routes of its side in the tooltip (TICO's in the TICO side's,
    hidden until the page's toggle shows it); the TICO side's label says TICO once instead of naming its
    call."""
    if tico and found["answer"] == WITH_TICO:
        text = chip_text({**found, "answer": WORKS, "requires": [c for c in found["requires"] if c != TICO_CALL]})
    else:
        text = chip_text(found)
    return found["answer"], text, routes_summary(found["routes"], tico)


def _table(table: str, row: str, anchor: str, head: str, entries: list[dict[str, Any]], pairs: list[str],
           strings: Strings, tico: bool) -> dict[str, Any]:
    """One answer table: its element id, the data attribute of its rows (`data-<row>`), the prefix of its
    rows' links (`#<anchor><key>`), its first column's heading, whether each chip has a TICO side, and per
    row `[key, title, *chips]`, each chip its side's (answer, label, tooltip) as string indexes, then, with
    `tico`, TICO's side's."""
    rows = []
    for entry in entries:
        chips: list[int] = []
        for pair in pairs:
            found = entry["answers"][pair]
            sides = [_chip(without_tico(entry, found), tico=False)] if tico else [_chip(found, tico=False)]
            if tico:
                sides.append(_chip(tico_side(entry, found), tico=True))
            chips += [strings.ref(value) for side in sides for value in side]
        rows.append([entry["key"], entry["title"], *chips])
    return {"id": table, "row": row, "anchor": anchor, "head": head, "tico": tico, "rows": rows}


def answer_views(uses: dict[str, Any]) -> dict[str, Any]:
    """The page data of the answer tables of `uses` (uses.json; one without a `families` section has an empty
    by-model table): the pairs newest first, the tables, their `strings` and the chip class of every answer
    given (`css`)."""
    pairs = newest_first(uses["pairs"])
    strings = Strings()
    tables = [_table(BY_USE_TABLE, "use", "use-", "use", uses["uses"], pairs, strings, tico=True),
              _table(BY_MODEL_TABLE, "family", "model-", "model", uses.get("families", []), pairs, strings,
                     tico=False)]
    given = {value for table in tables for row in table["rows"] for value in row[2::3]}
    return {"pairs": pairs, "tables": tables, "strings": strings.values,
            "css": {strings.values[at]: chip_css(strings.values[at]) for at in sorted(given)}}
