"""kvmatrix.render.by_model: the By model table of matrix.md (one row per model family, one chip per pair, as
compact as the by-use table's) and the page's section, from uses.json's `families`; a uses.json written before
the families says so instead."""

from __future__ import annotations

from typing import Any

import pytest

from kvmatrix.record.answers import uses_document
from kvmatrix.record.uses import FAMILY_TITLES
from kvmatrix.render.by_model import NONE_YET, by_model_html, by_model_markdown
from kvmatrix.render.markdown import render_markdown
from kvmatrix.render.page_answers import answer_views
from tests.support.records import family_cells


@pytest.fixture
def uses(pins: Any, published: Any) -> dict[str, Any]:
    return uses_document(published(pins, family_cells(), suites=["export", "families"])[0])


def test_the_by_model_table_has_a_row_per_family_and_the_best_routes_answer_per_pair(uses: dict) -> None:
    lines = by_model_markdown(uses).splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| model | `tf4.46.3-torch2.5.1` | `tf4.57.6-torch2.13.0` | `tf5.24.0-torch2.13.0` |"
    assert len(table) == 2 + len(FAMILY_TITLES)  # the head, the rule, a row per family
    (qwen3,) = [line for line in table if line.startswith("| Qwen3 ")]
    assert qwen3 == "| Qwen3 (`qwen3`) | ➖ n/a | 🔧 works with compat.register() + strict=True | 🚫 not-installable |"


def test_matrix_md_shows_by_model_after_by_use(uses: dict, pins: Any, published: Any) -> None:
    matrix, details = published(pins, family_cells(), suites=["export", "families"])
    text = render_markdown(matrix, details, uses)
    assert 0 < text.index("## By use") < text.index("## By model") < text.index("Qwen3 (`qwen3`)")


def test_a_uses_file_without_families_gives_an_empty_by_model_view(uses: dict) -> None:
    older = {key: value for key, value in uses.items() if key != "families"}
    assert by_model_markdown(older).endswith(NONE_YET)
    assert NONE_YET in by_model_html(older) and NONE_YET not in by_model_html(uses)
    (_, models) = answer_views(older)["tables"]
    assert models["rows"] == []
