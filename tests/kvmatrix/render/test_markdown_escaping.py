"""Values from cell records cannot change the structure of matrix.md or the README: whatever a class,
status, layout, repro, test name, error, cause, upstream issue, metric name or value, or a previous
matrix's generation time holds, every table row keeps its cells, no HTML or link gets through, code spans
stay closed, and the README markers appear once however often it is published. (The same through
`nox -s publish`: tests/integration/test_noxfile.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.publish.publish_run import README_END, README_START, embed_in_readme, publish
from kvmatrix.record.answers import uses_document
from kvmatrix.render.markdown import render_markdown
from kvmatrix.render.text import markdown_text
from tests.support.hostile import (
    HOSTILE,
    METRICS,
    UNESCAPED_BRACKET,
    UNESCAPED_PIPE,
    USE_TEST,
    hostile_cell,
    table_rows,
)
from tests.support.publish import LIST, PINS, cell_result, checkout, write_result

HOSTILE_PAIR = Cell(transformers="4.57.6", torch="2.13.0")


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
    matrix, details = published(pins, [hostile_cell(value)])
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
    matrix, _ = published(pins, [hostile_cell(value)])
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
