"""Hostile values of cell records, and what keeps Markdown tables whole, for the tests that Markdown and
the README stay text whatever a record holds."""

from __future__ import annotations

import re
from typing import Any

from kvmatrix.publish.publish_run import README_END, README_START
from tests.support.records import build_cell, mode_runs, record

HOSTILE = [
    "a|b",
    "line one\nline two\n| x | y |\n| --- | --- |",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example)",
    "![pixel](https://evil.example/p.png)",
    "`code` `` ```",
    "trailing backslash \\",
    "\\| escaped pipe",
    README_END,
    f"{README_START} <b>bold</b> &amp; *em* _u_ ~~s~~ # h",
]


UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")


UNESCAPED_BRACKET = re.compile(r"(?<!\\)(?:\\\\)*[\[\]]")


USE_TEST = "export::test_decode_step_exports_and_matches_eager[DynamicCache-strict-static]"
"""A test that answers a use of the by-use table."""


METRICS = ("backend", "compile_s", "recompiles_after_first_step", "graph_breaks", "eager_tokens_per_s",
           "compiled_tokens_per_s")


def hostile_cell(value: str) -> dict[str, Any]:
    """A ran cell whose every free-text value is `value`, its compiled loop's name and metrics too."""
    test = record("export", value, "fail", error=value, reason=value)
    loop = {**record("compile", value, "pass"), "metrics": dict.fromkeys(METRICS, value)}
    cell = build_cell("4.57.6", "2.13.0", mode_runs([test, loop], exit_code=1), registration_report=[
        {"class": value, "status": value, "owner": value, "reason": value}])
    return {**cell, "layout": value, "static_layer_init": value, "repro": value}


def table_rows(markdown: str) -> list[list[str]]:
    """Each Markdown table of `markdown` as its lines."""
    tables: list[list[str]] = [[]]
    for line in markdown.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    return [table for table in tables if table]


def assert_tables_keep_their_cells(markdown: str) -> None:
    """Every table row of `markdown` has as many cells as the others of its table, and no HTML or link."""
    for table in table_rows(markdown):
        assert len({len(UNESCAPED_PIPE.findall(row)) for row in table}) == 1, table
        for row in table:
            assert "<" not in row and ">" not in row.replace("→", ""), row
            assert not UNESCAPED_BRACKET.search(row), row
