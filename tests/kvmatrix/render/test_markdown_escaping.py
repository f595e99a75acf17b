"""Values from cell records cannot change the structure of matrix.md or the README: whatever a class,
status, layout, repro, test name, error, cause, upstream issue, metric name or value, or a previous
matrix's generation time holds, every table row keeps its cells, no HTML or link gets through, code spans
stay closed, and the README markers appear once however often it is published."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.publish.publish_run import README_END, README_START, embed_in_readme, publish
from kvmatrix.record.answers import uses_document
from kvmatrix.render.markdown import render_markdown
from kvmatrix.render.text import markdown_text
from tests.support.checkouts import checkout_copy, nox_publish_committed
from tests.support.publish import LIST, PINS, cell_result, checkout, write_result

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
HOSTILE_PAIR = Cell(transformers="4.57.6", torch="2.13.0")
UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")
UNESCAPED_BRACKET = re.compile(r"(?<!\\)(?:\\\\)*[\[\]]")


USE_TEST = "export::test_decode_step_exports_and_matches_eager[DynamicCache-strict-static]"
"""A test that answers a use of the by-use table."""
METRICS = ("backend", "compile_s", "recompiles_after_first_step", "graph_breaks", "eager_tokens_per_s",
           "compiled_tokens_per_s")


def hostile_cell(make_cell: Callable[..., dict[str, Any]], value: str) -> dict[str, Any]:
    """A ran cell whose every free-text value is `value`, its compiled loop's name and metrics too."""
    test = {"suite": "export", "name": value, "verdict": "fail", "duration_s": 0.5, "reason": value, "error": value}
    loop = {"suite": "compile", "name": value, "verdict": "pass", "duration_s": 0.5, "reason": None, "error": None,
            "metrics": dict.fromkeys(METRICS, value)}
    runs = {mode: {"exit_code": 1, "duration_s": 1.0, "log_tail": "", "tests": [test, loop]}
            for mode in ("with", "without")}
    cell = make_cell("4.57.6", "2.13.0", runs, registration_report=[
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


def code_span_closed(span: str) -> bool:
    """Whether `span` is one code span: a fence, text without a backtick run of the fence's length, the fence."""
    fence = re.match(r"`+", span)
    if fence is None or not span.endswith(fence.group()) or len(span) < 2 * len(fence.group()):
        return False
    inner = span[len(fence.group()):-len(fence.group())]
    return all(len(run) != len(fence.group()) for run in re.findall(r"`+", inner))


@pytest.mark.parametrize("value", HOSTILE)
def test_every_table_row_keeps_its_cells_and_no_html_or_link_gets_in(
    value: str, make_cell: Callable[..., dict[str, Any]], published: Callable[..., Any]
) -> None:
    pins = Pins(python="3.11", cells=(HOSTILE_PAIR,), path="pins.toml")
    matrix, details = published(pins, [hostile_cell(make_cell, value)])
    # a use's answer with a hostile cause and upstream issue, as a forged or older matrix.json may hold them
    matrix["cells"][0]["tests"][USE_TEST] = {"with": ["fail", value, value], "without": ["fail", value, value]}
    markdown = render_markdown(matrix, details, uses_document(matrix))
    shown = markdown_text(value)  # the loop's metrics and the use's cause are shown, as text
    assert " | ".join([shown] * len(METRICS)) in markdown
    assert shown in markdown.partition("## By use")[2].partition("\n## ")[0]
    tables = table_rows(markdown)
    assert len(tables) >= 6  # legend, by use, causes, matrix, registration report, metrics
    for table in tables:
        widths = {len(UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(widths) == 1, table
        for row in table:
            assert "<" not in row and ">" not in row.replace("→", "")
            assert not UNESCAPED_BRACKET.search(row), row
    repro = next(line for line in markdown.splitlines() if line.startswith("Repro: "))
    assert code_span_closed(repro.removeprefix("Repro: "))
    names = [line for line in markdown.splitlines() if line.startswith("  - export · ")]
    assert names and all(code_span_closed(line.removeprefix("  - export · ").rsplit(" (", 1)[0]) for line in names)


@pytest.mark.parametrize("value", HOSTILE)
def test_the_readme_embedding_never_holds_a_marker_or_raw_html(
    value: str, make_cell: Callable[..., dict[str, Any]], published: Callable[..., Any]
) -> None:
    pins = Pins(python="3.11", cells=(HOSTILE_PAIR,), path="pins.toml")
    matrix, _ = published(pins, [hostile_cell(make_cell, value)])
    readme = embed_in_readme(f"head\n{README_START}\n{README_END}\ntail\n", matrix, uses_document(matrix))
    assert readme.count(README_START) == 1 and readme.count(README_END) == 1
    embedded = readme.partition(README_START)[2].partition(README_END)[0]
    assert "<" not in embedded and readme.endswith(f"{README_END}\ntail\n")


def test_a_marker_in_a_layout_does_not_pile_up_readme_rows_over_publishes(tmp_path: Path) -> None:
    root = checkout(tmp_path / "repo", ["export"])
    results, reports, readme = tmp_path / "cells", tmp_path / "reports", tmp_path / "README.md"
    readme.write_text(f"# Project\n\n{README_START}\n{README_END}\n\nMore text.\n")
    for duration in (1.0, 2.0, 3.0):
        layout = f"X{README_END}\n| a | b |{README_START}"
        result = {**cell_result(LIST, "pass", ["export"]), "duration_s": duration, "layout": layout}
        write_result(results, result)
        publish(PINS, (LIST,), results, reports, readme, root=root)
    text = readme.read_text()
    assert text.count(README_START) == 1 and text.count(README_END) == 1
    assert text.endswith(f"{README_END}\n\nMore text.\n")
    matrix, uses = (json.loads((reports / name).read_text()) for name in ("matrix.json", "uses.json"))
    assert len(text.splitlines()) == len(embed_in_readme(text, matrix, uses).splitlines())


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_generation_time_of_the_previous_matrix_stays_text_in_the_changes(
    value: str, tmp_path: Path
) -> None:
    root = checkout(tmp_path / "repo", ["export"])
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass", ["export"]))
    publish(PINS, (LIST,), results, reports, root=root)
    previous = json.loads((reports / "matrix.json").read_text())
    (reports / "matrix.json").write_text(json.dumps({**previous, "generated_at": value}))
    write_result(results, cell_result(LIST, "fail", ["export"]))
    publish(PINS, (LIST,), results, reports, root=root)
    markdown = (reports / "matrix.md").read_text()
    compared = next(line for line in markdown.splitlines() if line.startswith("Compared with the matrix generated"))
    assert "<" not in compared and not UNESCAPED_BRACKET.search(compared) and "`" not in compared.replace("\\`", "")
    assert README_END not in markdown and README_START not in markdown


def assert_tables_keep_their_cells(markdown: str) -> None:
    """Every table row of `markdown` has as many cells as the others of its table, and no HTML or link."""
    for table in table_rows(markdown):
        assert len({len(UNESCAPED_PIPE.findall(row)) for row in table}) == 1, table
        for row in table:
            assert "<" not in row and ">" not in row.replace("→", ""), row
            assert not UNESCAPED_BRACKET.search(row), row


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
@pytest.mark.parametrize("value", HOSTILE)
def test_nox_publish_of_hostile_causes_metrics_and_generation_time_keeps_them_text_in_matrix_md_and_the_readme(
    value: str, tmp_path: Path, pins_file: Path, ran_cell: dict[str, Any], make_cell: Callable[..., dict[str, Any]]
) -> None:
    """Issue 31 items 3 and 9 through `nox -s publish` into the committed reports/ of a copy of the checkout
    (the README is published only with that folder): a fresh result whose every free text, a use's cause and
    upstream issue (the by-use chips) and a compiled loop's name and metrics (the Metrics section) included, is
    `value`, published over a matrix.json whose `generated_at` is `value` (the changes section). The README's
    table (what to pin, kvmatrix.render.readme) holds no cause: it must keep its markers and rows."""
    root, results = checkout_copy(tmp_path / "repo"), tmp_path / "cells"
    write_result(results, ran_cell)
    first = nox_publish_committed(root, pins_file, results)
    assert first.returncode == 0, first.stdout + first.stderr
    matrix_path = root / "reports" / "matrix.json"
    matrix_path.write_text(json.dumps({**json.loads(matrix_path.read_text()), "generated_at": value}))
    hostile = hostile_cell(make_cell, value)
    suite, name = USE_TEST.split("::")
    for run in hostile["runs"].values():  # the use's test fails in both modes: its chip shows cause and upstream
        run["tests"].append({"suite": suite, "name": name, "verdict": "fail", "duration_s": 0.5, "reason": None,
                             "error": "AssertionError: boom", "cause": value, "upstream": value})
    write_result(results, hostile)
    proc = nox_publish_committed(root, pins_file, results)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    markdown = (root / "reports" / "matrix.md").read_text()
    shown = markdown_text(value)
    assert " | ".join([shown] * len(METRICS)) in markdown  # the loop's metrics, as text
    assert shown in markdown.partition("## By use")[2].partition("\n## ")[0]  # the chip's cause, as text
    assert_tables_keep_their_cells(markdown)
    compared = next(line for line in markdown.splitlines() if line.startswith("Compared with the matrix generated"))
    assert "<" not in compared and not UNESCAPED_BRACKET.search(compared) and "`" not in compared.replace("\\`", "")
    readme = (root / "README.md").read_text()
    assert readme.count(README_START) == 1 and readme.count(README_END) == 1
    embedded = readme.partition(README_START)[2].partition(README_END)[0]
    assert "<" not in embedded
    assert_tables_keep_their_cells(embedded)
