"""What the page's script reads (kvmatrix/render/page/page.js): the matrix and, per cell, the part of its detail
that the details dialog shows, compacted and capped so that the real default matrix keeps index.html small and
no record, however long its error, can stall the page.

Compacting: every test key (`<suite>::<name>`) and every message text is written once, in `keys` and `texts`,
and referred to by its index; a cell's compact test table becomes a list of `[key, with, without, tico]`. The
script expands both back into the shapes of matrix.json before it reads them. Capping: an error, reason or
cause detail longer than TEXT_LIMIT characters keeps its start and ends in a note naming the detail file that
holds the full text.
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.detail import table_key
from kvmatrix.record.verdicts import FLAKY, LISTED, MODES, TICO_MODE
from kvmatrix.run.one_test import command as one_test_command

TEXT_LIMIT = 2000
"""The most characters of an error, reason or cause detail embedded in the page."""
REPORT_SHOWN = ("class", "status", "owner", "reason")
"""The fields of a registration report entry that the details dialog shows."""
TEST_MODES = (*MODES, TICO_MODE)
"""The order of the modes in a compact test entry `[key, with, without, tico]`."""


def capped(text: str | None, source: str, limit: int = TEXT_LIMIT) -> str | None:
    """`text` cut to its first `limit` characters followed by a note naming `source` (the detail file that
    holds the full text); shorter texts (and None) unchanged."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… (full text in {source})"


class Strings:
    """A table of distinct strings, each added once and referred to by its index."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, value: str) -> int:
        """The index of `value`, added if new."""
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self._index[value]


def page_data(matrix: dict[str, Any], details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the page's script reads: `matrix` without its `changes` (rendered into the page already), each
    cell's test table compacted against `keys` and its regressions' errors capped; per cell id `page_detail`
    of its detail, messages compacted against `keys` and `texts`; the one-test command template, the order
    of the `modes` in a compact test entry and the verdicts the details list (`listed`)."""
    keys, texts = Strings(), Strings()
    cells = [_compact_cell(cell, keys) for cell in matrix["cells"]]
    return {
        "matrix": {**{key: value for key, value in matrix.items() if key not in ("changes", "cells")}, "cells": cells},
        "details": {cell["id"]: page_detail(details[cell["id"]], cell.get("detail", ""), keys, texts)
                    for cell in matrix["cells"]},
        "keys": keys.values,
        "texts": texts.values,
        "modes": list(TEST_MODES),
        "listed": list(LISTED),
        "one_test": one_test_command("{cell}", "{mode}", "{nodeid}"),
    }


def _compact_cell(cell: dict[str, Any], keys: Strings) -> dict[str, Any]:
    """`cell` with its test table as `[key index, with, without, tico]` entries (0 where a mode has none), its
    registration report cut to what the dialog shows (REPORT_SHOWN), and the errors of its compat regressions
    and TICO advantages capped."""
    source = cell.get("detail", "")
    compact = {**cell, "tests": [[keys.ref(key), *(modes.get(mode) or 0 for mode in TEST_MODES)]
                                 for key, modes in cell.get("tests", {}).items()]}
    compact["registration_report"] = [{key: entry.get(key) for key in REPORT_SHOWN}
                                      for entry in cell.get("registration_report", [])]
    for listed in ("compat_regressions", "tico_advantages"):
        if listed in cell:
            compact[listed] = [{**entry, "error": capped(entry.get("error"), source)} for entry in cell[listed]]
    return compact


def page_detail(detail: dict[str, Any], source: str = "", keys: Strings | None = None,
                texts: Strings | None = None) -> dict[str, Any]:
    """The part of a cell's detail that its details dialog shows: each run's `exit_code` and `duration_s`,
    the `freeze` list, when the cell's verdicts ran (`finished_at`) and whether this publish reused them
    from that run (`reused_from`, kvmatrix.run.reuse), and `messages`: per mode, per test that did not pass,
    `[key, text, cause_detail, reruns]`, the key and texts as indexes into `keys` and `texts` (-1: no cause
    detail; trailing entries left out when they hold nothing), each text capped (`capped`, naming `source`,
    the detail file)."""
    keys, texts = keys or Strings(), texts or Strings()
    messages: dict[str, list[list[Any]]] = {}
    for mode, run in detail["runs"].items():
        for test in run.get("tests", []):
            if test.get("verdict") in LISTED:
                text = test.get("reason") if test["verdict"] == FLAKY else test.get("error") or test.get("reason")
                cause_detail = capped(test.get("cause_detail"), source)
                entry = [keys.ref(table_key(test)), texts.ref(capped(text, source) or ""),
                         texts.ref(cause_detail) if cause_detail else -1, test.get("reruns") or []]
                while entry[-1] in (-1, []):
                    entry.pop()
                messages.setdefault(mode, []).append(entry)
    return {
        "runs": {mode: {"exit_code": run.get("exit_code"), "duration_s": run.get("duration_s")}
                 for mode, run in detail["runs"].items()},
        "freeze": detail["freeze"],
        "finished_at": detail.get("finished_at"),
        "reused_from": detail.get("reused_from"),
        "messages": messages,
    }
