"""What the page's by-use view needs beyond uses.json's own fields: the pairs newest first, each answer on
either side of the page's TICO toggle, and each use's picture as compact data the page's script draws.

The two sides of the toggle are read with kvmatrix.record.uses.answer over the answer's own tests (uses.json
keeps every test of the use per pair), so they follow the same rules as the published answer: off, transformers
alone and compat.register() only (the published answer unless only TICO's registration works); on, TICO's
registration alone, beside it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from kvmatrix.plan.pins import Cell
from kvmatrix.record.answers import GROUPS, NOT_RUN, UNTESTED, pair_order, version
from kvmatrix.record.uses import ANSWERS, BY_KEY, TICO, WITH_TICO, answer
from kvmatrix.record.verdicts import MODES, NA, RAN, TICO_MODE
from kvmatrix.render.use_picture import COLOURS, DARK_INK, LETTERS


def newest_first(pairs: list[str]) -> list[str]:
    """Pair ids ordered newest first: by transformers version, then torch (packaging.version)."""
    return sorted(pairs, key=lambda pair: pair_order(*_pins_of(pair)), reverse=True)


def _pins_of(pair: str) -> tuple[str, str]:
    """(transformers, torch) of a cell id (kvmatrix.plan.pins.Cell.from_id)."""
    cell = Cell.from_id(pair)
    return cell.transformers, cell.torch


def newest_cells_first(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Matrix cells ordered as `newest_first` orders their pairs."""
    return sorted(cells, key=lambda cell: pair_order(cell["pins"]["transformers"], cell["pins"]["torch"]),
                  reverse=True)


def without_tico(use: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    """`found` (a use's answer in one pair) as transformers alone and compat.register() give it: `found`
    itself unless it rests on TICO's registration, else the answer read again without TICO's run."""
    if found["answer"] != WITH_TICO:
        return found
    return _answer_in(use, found, keep=MODES) or found


def tico_side(use: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    """The use's answer in the pair under TICO's registration alone (n/a where TICO's run has none of its
    tests); `found` itself where the pair or the use's client did not run."""
    return _answer_in(use, found, keep=(TICO_MODE,)) or found


def _answer_in(use: dict[str, Any], found: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any] | None:
    """The answer of `use` over `found`'s tests in the modes `keep` only (the others n/a); None where the
    pair or client did not run (nothing to read again) or the use is not one this code defines."""
    definition = BY_KEY.get(use["key"])
    if definition is None or found["answer"] not in ANSWERS:
        return None
    tests = {f"{use['suite']}::{name}": {mode: (entry if mode in keep else [NA]) for mode, entry in modes.items()}
             for name, modes in found.get("tests", {}).items()}
    return answer(definition, {"status": RAN, "tests": tests}).to_json()


def routes_summary(routes: list[list[str | None]], tico: bool) -> str:
    """The routes of one answer (uses.json `[route, verdict, cause, upstream]`) under TICO's registration
    (`tico`) or the others, as one short line for a tooltip: grouped by verdict and cause, the variants that
    share them and their registrations, e.g. `pass: default, flat-outputs (transformers, compat); fail (cache):
    vmap-free-mask (compat)`; TICO's side names no registration."""
    outcomes: dict[str, dict[str, list[str]]] = {}  # outcome -> variant -> registrations, in route order
    for route, verdict, cause, _ in routes:
        variant, _, registration = str(route).rpartition("+")
        if (registration == TICO.key) == tico:
            outcome = f"{verdict} ({cause})" if cause else str(verdict)
            outcomes.setdefault(outcome, {}).setdefault(variant, []).append(registration)
    parts = []
    for outcome, variants in outcomes.items():
        shared: dict[tuple[str, ...], list[str]] = {}  # registrations -> the variants that have exactly those
        for variant, registrations in variants.items():
            shared.setdefault(tuple(registrations), []).append(variant)
        parts.append(f"{outcome}: " + "; ".join(", ".join(names) + ("" if tico else f" ({', '.join(key)})")
                                                 for key, names in shared.items()))
    return " · ".join(parts)


def picture_placeholder(use: dict[str, Any]) -> str:
    """The element the page's script draws the use's picture into (the grid of kvmatrix.render.use_picture,
    as an HTML table), holding it as data: transformers minors newest first, torch minors, and per square the
    index of its group in GROUPS, row after row."""
    grid = use["since"]["by_transformers"]
    rows = sorted(grid, key=version, reverse=True)
    columns = sorted({torch for row in grid.values() for torch in row}, key=version)
    squares = "".join(str(_group_index(grid[tf].get(torch, UNTESTED))) for tf in rows for torch in columns)
    return (f'<div class="picture" data-rows="{escape(" ".join(rows))}" data-columns="{escape(" ".join(columns))}" '
            f'data-squares="{squares}"></div>')


def _group_index(found: str) -> int:
    """The index in GROUPS of a picture square's group; an unknown one is drawn as `not run`, as
    kvmatrix.render.use_picture colours it."""
    return GROUPS.index(found if found in GROUPS else NOT_RUN)


def picture_legend() -> str:
    """The picture legend: a swatch, its letter and its group, for every group (shared by all pictures; the
    script reads each group's name and letter from it)."""
    items = "".join(f'<li data-name="{escape(name)}"><span class="square g{index}">{escape(LETTERS[name])}</span> '
                    f"{escape(name)}</li>" for index, name in enumerate(GROUPS))
    return f'<ul class="picture-legend" id="picture-legend">{items}</ul>'


def picture_css() -> str:
    """The colour of each group's squares (kvmatrix.render.use_picture.COLOURS, dark letters on light fills),
    as page CSS."""
    return "\n".join(f".square.g{index} {{ background: {COLOURS[name]}; color: "
                     f"{'#24292f' if name in DARK_INK else '#ffffff'}; }}" for index, name in enumerate(GROUPS)) + "\n"
