"""The page's By model section in a real headless Chromium: one row per model family, one column per pair
newest first, each chip its best route's answer with the routes as a tooltip, a `#model-<family>` link, and
the pair and answer filters over it as over the by-use table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from page_fixtures import LAYER, LIST_MODULE, SUITES, UNINSTALLABLE, published, ran, runs_of, sample_records
from playwright.sync_api import Page, expect

from kvmatrix.record.uses import FAMILY_TITLES
from kvmatrix.render.by_use import ANSWER_LABELS
from tests.support.records import family_tests

OpenPage = Callable[..., Page]
NEWEST_FIRST = [UNINSTALLABLE.id, LAYER.id, LIST_MODULE.id]


WITH_FAMILIES = [*SUITES, "families"]
"""The columns of a matrix whose layer pair ran the families suite."""


def family_records() -> list[dict[str, Any]]:
    """The sample records, the layer pair having run the model family tests (tests.support.records
    .FAMILY_OUTCOMES) beside its suites; the list-module pair ran none of them."""
    records = sample_records()
    runs = runs_of(records[1]["runs"]["without"]["tests"][0])
    for mode, run in runs.items():
        run["tests"] = [*run["tests"], *family_tests(mode)]
    records[1] = ran(LAYER, "layer", runs, suites=WITH_FAMILIES)
    return records


@pytest.fixture
def models(open_page: OpenPage) -> Page:
    matrix, details = published(family_records(), "2026-11-25T10:00:00Z", WITH_FAMILIES)
    return open_page(matrix, details)


def shown_families(page: Page) -> list[str]:
    return page.locator("#by-model-table tbody tr:visible").evaluate_all("rows => rows.map(r => r.dataset.family)")


def shown_pairs(page: Page) -> list[str]:
    return page.locator("#by-model-table thead th[data-pair]:visible").evaluate_all(
        "heads => heads.map(th => th.dataset.pair)")


def chip(page: Page, family: str, pair: str) -> Any:
    at = NEWEST_FIRST.index(pair)
    return page.locator(f'#by-model-table tr[data-family="{family}"] td').nth(at).locator(".chip")


def test_the_by_model_table_follows_the_by_use_table_one_row_per_family_pairs_newest_first(models: Page) -> None:
    assert models.evaluate("() => Array.from(document.querySelectorAll('main > section, main > h2'), "
                           "s => s.id).slice(0, 4)") == ["compat-regressions", "by-use", "by-model", "suites"]
    assert shown_families(models) == list(FAMILY_TITLES)
    assert shown_pairs(models) == NEWEST_FIRST
    expect(chip(models, "llama", LAYER.id)).to_have_text("✅ works: strict=True")
    expect(chip(models, "qwen3", LAYER.id)).to_have_text("🔧 works with compat.register() + strict=True")
    expect(chip(models, "gemma", LAYER.id)).to_have_text("❌ broken (cache)")
    expect(chip(models, "smollm3", LAYER.id)).to_have_text(ANSWER_LABELS["n/a"])
    expect(chip(models, "llama", LIST_MODULE.id)).to_have_text(ANSWER_LABELS["n/a"])  # ran no family test
    expect(chip(models, "llama", UNINSTALLABLE.id)).to_contain_text("not-installable")
    # the tooltip lists every route behind the answer, a failing one beside the one that works
    assert chip(models, "qwen3", LAYER.id).get_attribute("title") == (
        "fail (cache): wrapper-strict, static-cache-loop-compiled (transformers); dynamic-cache-step-non-strict "
        "(transformers, compat) · pass: wrapper-strict, static-cache-loop-compiled (compat)")
    expect(models.locator("#by-model-table .chip.tico-only")).to_have_count(0)


def test_a_models_link_brings_its_row_into_view(open_page: OpenPage) -> None:
    matrix, details = published(family_records(), "2026-11-25T10:00:00Z", WITH_FAMILIES)
    page = open_page(matrix, details, "#model-granite")
    row = page.locator("#model-granite")
    expect(row).to_have_attribute("scope", "row")
    expect(row.locator("a")).to_have_attribute("href", "#model-granite")
    expect(row).to_be_in_viewport()


def test_a_pair_filter_hides_the_other_pairs_columns_of_the_by_model_table(models: Page) -> None:
    models.select_option("#filter-torch", "2.13.0")
    assert shown_pairs(models) == [UNINSTALLABLE.id, LAYER.id]
    line = models.locator('#by-model-table tr[data-family="llama"]')
    assert line.locator("td:visible").count() == 2  # the chips follow their column
    models.select_option("#filter-torch", "")
    models.select_option("#filter-layout", "list-module")
    assert shown_pairs(models) == [LIST_MODULE.id]


def test_an_answer_filter_keeps_the_families_and_pairs_that_have_it_and_fades_the_other_chips(models: Page) -> None:
    models.select_option("#filter-answer", "works with compat")
    assert shown_families(models) == ["qwen3"]
    assert shown_pairs(models) == [LAYER.id]
    models.select_option("#filter-answer", "works")
    assert shown_families(models) == ["llama", "phi3"]
    shown = models.locator("#by-model-table tbody td:visible")
    assert shown.evaluate_all("tds => tds.map(td => td.classList.contains('faded'))") == [False, False]
    models.select_option("#filter-answer", "")
    assert shown_families(models) == list(FAMILY_TITLES)


def test_a_use_filter_leaves_the_by_model_table_whole(models: Page) -> None:
    models.select_option("#filter-use", "saveload-staticcache")
    assert shown_families(models) == list(FAMILY_TITLES)
