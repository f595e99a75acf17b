"""What the page's script reads (kvmatrix/render/page/page.js): the matrix and, per cell, the part of its detail
that the details dialog shows, compacted and capped so that the real default matrix keeps index.html small and
no record, however long its error, can stall the page.

Compacting: every test key (`<suite>::<name>`) and every message text is written once, in `keys` and `texts`,
and referred to by its index. A cell's compact test table becomes one string of verdict codes per mode, the
i-th character the verdict of `keys[i]` (its index in `codes` is the verdict's in `verdicts`; `-`: the mode
has no such test), strings of cause codes aligned the same way (into `causes`), and `notes` only for the few
entries that have an upstream issue: most tests pass, and a verdict or cause written as one character keeps
the page small as the matrix grows. A test's re-runs are verdict codes too. The page embeds the answer tables
(by use, by model) beside this data (kvmatrix.render.page_answers). The script expands all of it back into the shapes of matrix.json before it reads them. Capping: an error, reason or
cause detail longer than TEXT_LIMIT characters keeps its start and ends in a note naming the detail file that
holds the full text.
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.detail import table_key
from kvmatrix.record.verdicts import FLAKY, LISTED, MODES, PASS, TEST_VERDICTS, TICO_MODE
from kvmatrix.run.one_test import command as one_test_command

TEXT_LIMIT = 2000
"""The most characters of an error, reason or cause detail embedded in the page."""
REPORT_SHOWN = ("class", "status", "owner", "reason")
"""The fields of a registration report entry that the details dialog shows."""
TEST_MODES = (*MODES, TICO_MODE)
"""The order of a cell's verdict code strings, and the mode index of a note."""
CODES = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The characters of the verdict codes: the n-th verdict of the page data's `verdicts` is CODES[n]."""
ABSENT = "-"
"""The code of a mode that has no such test."""


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


class Codes:
    """The verdict codes: each verdict one character of CODES, the test verdicts first (stable codes), any
    other verdict a record holds added as met."""

    def __init__(self) -> None:
        self.verdicts = Strings()
        for verdict in TEST_VERDICTS:
            self.verdicts.ref(verdict)

    def code(self, verdict: str) -> str:
        """The one-character code of `verdict`."""
        return code_of(self.verdicts.ref(verdict))


def code_of(index: int) -> str:
    """The one-character code of the `index`-th value of a table (of verdicts, of causes)."""
    if index >= len(CODES):
        raise ValueError(f"more than {len(CODES)} distinct values to code in one page")
    return CODES[index]


def page_data(matrix: dict[str, Any], details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the page's script reads: `matrix` without its `changes` (rendered into the page already), each
    cell's test table compacted against `keys` and `verdicts` and its regressions' errors capped; per cell id
    `page_detail` of its detail, messages compacted against `keys`, `texts` and `verdicts`; the one-test command template, the order of the `modes` of
    a cell's code strings and the verdicts the details list (`listed`)."""
    keys, texts, codes, causes = Strings(), Strings(), Codes(), Strings()
    cells = [_compact_cell(cell, keys, codes, causes) for cell in matrix["cells"]]
    return {
        "matrix": {**{key: value for key, value in matrix.items() if key not in ("changes", "cells")}, "cells": cells},
        "details": {cell["id"]: page_detail(details[cell["id"]], cell.get("detail", ""), keys, texts, codes)
                    for cell in matrix["cells"]},
        "keys": keys.values,
        "texts": texts.values,
        "verdicts": codes.verdicts.values,
        "causes": causes.values,
        "codes": CODES,
        "modes": list(TEST_MODES),
        "grid": {"modes": list(MODES), "passed": PASS},
        "listed": list(LISTED),
        "one_test": one_test_command("{cell}", "{mode}", "{nodeid}"),
    }


def compact_tests(tests: dict[str, dict[str, list[Any]]], keys: Strings, codes: Codes,
                  causes: Strings) -> dict[str, Any]:
    """A cell's compact test table (key -> mode -> [verdict, cause, upstream]) as `codes`, one string per
    mode of TEST_MODES whose i-th character codes the verdict of `keys` i (ABSENT where the mode has no such
    test; trailing ABSENTs left out); `causes`, strings aligned the same way coding an entry's cause as its
    index in `causes` (CODES) where the entry is [verdict, cause]; and `notes`, `[key index, mode index,
    *rest]` of each other entry with more than its verdict (an upstream issue, no cause)."""
    at = {key: keys.ref(key) for key in tests}
    verdict_strings, cause_strings, notes = [], [], []
    for index, mode in enumerate(TEST_MODES):
        verdicts, found_causes = [ABSENT] * len(keys.values), [ABSENT] * len(keys.values)
        for key, modes in tests.items():
            entry = modes.get(mode)
            if not entry:
                continue
            verdicts[at[key]] = codes.code(entry[0])
            if len(entry) == 2 and isinstance(entry[1], str):
                found_causes[at[key]] = code_of(causes.ref(entry[1]))
            elif len(entry) > 1:
                notes.append([at[key], index, *entry[1:]])
        verdict_strings.append("".join(verdicts).rstrip(ABSENT))
        cause_strings.append("".join(found_causes).rstrip(ABSENT))
    return {"codes": verdict_strings, "causes": cause_strings, "notes": notes}


def _compact_cell(cell: dict[str, Any], keys: Strings, codes: Codes, causes: Strings) -> dict[str, Any]:
    """`cell` with its test table compacted (`compact_tests`), its registration report cut to what the dialog
    shows (REPORT_SHOWN), and the errors of its compat regressions and TICO advantages capped."""
    source = cell.get("detail", "")
    compact = {**cell, "tests": compact_tests(cell.get("tests", {}), keys, codes, causes)}
    compact["registration_report"] = [{key: entry.get(key) for key in REPORT_SHOWN}
                                      for entry in cell.get("registration_report", [])]
    for listed in ("compat_regressions", "tico_advantages"):
        if listed in cell:
            compact[listed] = [{**entry, "error": capped(entry.get("error"), source)} for entry in cell[listed]]
    return compact


def page_detail(detail: dict[str, Any], source: str = "", keys: Strings | None = None,
                texts: Strings | None = None, codes: Codes | None = None) -> dict[str, Any]:
    """The part of a cell's detail that its details dialog shows: each run's `exit_code` and `duration_s`,
    the `freeze` list, when the cell's verdicts ran (`finished_at`) and whether this publish reused them
    from that run (`reused_from`, kvmatrix.run.reuse), and `messages`: per mode, per test that did not pass,
    `[key, text, cause_detail, reruns]`, the key and texts as indexes into `keys` and `texts` (-1: no cause
    detail), the re-runs' verdicts as a string of `codes` (trailing entries left out when they hold nothing),
    each text capped (`capped`, naming `source`, the detail file)."""
    keys, texts, codes = keys or Strings(), texts or Strings(), codes or Codes()
    messages: dict[str, list[list[Any]]] = {}
    for mode, run in detail["runs"].items():
        for test in run.get("tests", []):
            if test.get("verdict") in LISTED:
                text = test.get("reason") if test["verdict"] == FLAKY else test.get("error") or test.get("reason")
                cause_detail = capped(test.get("cause_detail"), source)
                entry = [keys.ref(table_key(test)), texts.ref(capped(text, source) or ""),
                         texts.ref(cause_detail) if cause_detail else -1,
                         "".join(codes.code(verdict) for verdict in test.get("reruns") or [])]
                while entry[-1] in (-1, ""):
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
