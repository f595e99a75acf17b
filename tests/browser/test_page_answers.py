"""The page answers first, in a real headless Chromium: the newest pairs first, headers kept in view, the
filters over every table, TICO's answers behind one toggle, a use's picture one click away; and the keyboard,
the details dialog, print, the dark scheme, narrow screens and an oversized record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from page_fixtures import LIST_MODULE, sample_matrix, sample_records
from playwright.sync_api import Browser, Page, expect

from kvmatrix.record.matrix import load_published
from kvmatrix.render.html import render_page
from kvmatrix.render.page_data import TEXT_LIMIT
from kvmatrix.render.page_uses import newest_first

OpenPage = Callable[..., Page]
REPORTS = Path(__file__).resolve().parents[2] / "reports"
COUNT_DIALOG = """
window.__opened = 0; window.__closed = 0;
const showModal = HTMLDialogElement.prototype.showModal;
HTMLDialogElement.prototype.showModal = function () { window.__opened += 1; return showModal.call(this); };
document.addEventListener("close", () => { window.__closed += 1; }, true);
"""
"""Counts the details dialog's openings and closings."""


@pytest.fixture(scope="module")
def reports() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The published default matrix, its cells' details and its uses.json (read only)."""
    matrix, details = load_published(REPORTS / "matrix.json")
    return matrix, details, json.loads((REPORTS / "uses.json").read_text(encoding="utf-8"))


@pytest.fixture
def published(open_page: OpenPage, reports: tuple[dict, dict, dict]) -> Page:
    """The published default matrix's page, 1280 px wide."""
    matrix, details, uses = reports
    return open_page(matrix, details, uses=uses)


def visible_pairs(page: Page) -> list[str]:
    return page.locator("#by-use-table thead th[data-pair]:visible").evaluate_all(
        "heads => heads.map(th => th.dataset.pair)")


def visible_uses(page: Page) -> list[str]:
    return page.locator("#by-use-table tbody tr:visible").evaluate_all("rows => rows.map(r => r.dataset.use)")


def test_the_newest_pair_is_the_first_column_of_the_by_use_table_and_the_first_row_of_the_grid(
    published: Page, reports: tuple[dict, dict, dict]
) -> None:
    pairs = reports[2]["pairs"]
    assert visible_pairs(published) == newest_first(pairs)
    newest = newest_first(pairs)[0]
    assert published.locator("#grid tbody tr.pair").first.get_attribute("data-cell") == newest
    assert published.locator("#by-use-table thead th[data-pair]").first.bounding_box()["x"] < 400


def test_the_header_row_and_first_column_stay_in_view_as_each_table_scrolls(published: Page) -> None:
    published.set_viewport_size({"width": 900, "height": 600})
    for box, head, first in (("#by-use .scroll", "#by-use-table thead th[data-pair]",
                              "#by-use-table tbody th"), ("#grid-box", "#grid thead th", "#grid tbody th")):
        scroller = published.locator(box)
        scroller.scroll_into_view_if_needed()
        scroller.evaluate("box => { box.scrollTop = 300; box.scrollLeft = 300; }")
        assert scroller.evaluate("box => box.scrollTop") > 0, box  # the box did scroll
        top = scroller.evaluate("box => box.getBoundingClientRect().top")
        assert abs(published.locator(head).first.evaluate("th => th.getBoundingClientRect().top") - top) < 2, box
        left = scroller.evaluate("box => box.getBoundingClientRect().left")
        row_head = published.locator(first).nth(5)
        assert abs(row_head.evaluate("th => th.getBoundingClientRect().left") - left) < 2, box


def test_a_pair_filter_hides_the_other_pairs_columns_in_the_by_use_table_and_their_grid_rows(
    published: Page, reports: tuple[dict, dict, dict]
) -> None:
    torch = reports[0]["cells"][0]["pins"]["torch"]
    published.select_option("#filter-torch", torch)
    expected = [pair for pair in newest_first(reports[2]["pairs"]) if pair.endswith(f"-torch{torch}")]
    assert visible_pairs(published) == expected
    row = published.locator("#by-use-table tbody tr").first
    assert row.locator("td:visible").count() == len(expected)  # the chips follow their column
    grid = published.locator("#grid tbody tr.pair:visible").evaluate_all("rows => rows.map(r => r.dataset.cell)")
    assert grid == expected
    expect(published.locator("#shown")).to_have_text(f"{len(expected)} of {len(reports[0]['cells'])} pairs")


def test_a_use_filter_keeps_that_uses_row_and_since_line(published: Page, reports: tuple[dict, dict, dict]) -> None:
    key = reports[2]["uses"][3]["key"]
    published.select_option("#filter-use", key)
    assert visible_uses(published) == [key]
    expect(published.locator("details.since:visible")).to_have_count(1)
    expect(published.locator(f"#use-{key}")).to_be_visible()
    expect(published.locator("#shown-uses")).to_have_text(f"1 of {len(reports[2]['uses'])} uses")


def test_an_answer_filter_keeps_the_uses_and_pairs_that_have_it_and_fades_the_other_chips(
    published: Page, reports: tuple[dict, dict, dict]
) -> None:
    uses = reports[2]["uses"]
    counts: dict[str, int] = {}
    for use in uses:
        for found in use["answers"].values():
            counts[found["answer"]] = counts.get(found["answer"], 0) + 1
    answer = min(counts, key=counts.get)  # the rarest answer narrows the most
    published.select_option("#filter-answer", answer)
    having = [use["key"] for use in uses if any(f["answer"] == answer for f in use["answers"].values())]
    pairs = [pair for pair in newest_first(reports[2]["pairs"])
             if any(use["answers"][pair]["answer"] == answer for use in uses)]
    assert visible_uses(published) == having and visible_pairs(published) == pairs
    assert len(having) < len(uses)
    shown = published.locator("#by-use-table tbody td:visible")
    assert shown.evaluate_all("tds => tds.filter(td => !td.classList.contains('faded')).length") == counts[answer]
    assert shown.evaluate_all(f"tds => tds.every(td => td.classList.contains('faded') === "
                              f"(td.dataset.answer !== {json.dumps(answer)}))")
    grid = published.locator("#grid tbody tr.pair:visible").evaluate_all("rows => rows.map(r => r.dataset.cell)")
    assert grid == pairs


def test_ticos_answers_show_beside_the_others_only_with_the_toggle_on(published: Page) -> None:
    tico_chips = published.locator("#by-use-table .chip.tico-only")
    assert tico_chips.count() > 0
    expect(tico_chips.first).to_be_hidden()
    assert "TICO: " not in published.locator("#by-use-table tbody").inner_text()
    published.check("#show-tico")
    expect(tico_chips.first).to_be_visible()
    expect(tico_chips.first).to_contain_text("TICO: ")
    first = published.locator("#by-use-table tbody td").first
    expect(first.locator(".chip")).to_have_count(2)  # side by side in the same cell
    published.uncheck("#show-tico")
    expect(tico_chips.first).to_be_hidden()


def test_a_uses_title_opens_its_since_line_and_picture(published: Page, reports: tuple[dict, dict, dict]) -> None:
    use = reports[2]["uses"][0]
    published.locator(f'#by-use-table a[href="#use-{use["key"]}"]').click()
    since = published.locator(f"#use-{use['key']}")
    expect(since).to_have_attribute("open", "")
    expect(since.locator("summary")).to_contain_text(use["since"]["line"])
    grid = use["since"]["by_transformers"]
    squares = since.locator("table.picture-grid td.square")
    expect(squares).to_have_count(sum(len(row) for row in grid.values()))
    newest_tf = max(grid, key=lambda minor: tuple(int(part) for part in minor.split(".")))
    expect(since.locator("table.picture-grid tbody th").first).to_have_text(f"tf {newest_tf}")


@pytest.mark.parametrize("target", ["tr", "a"])
def test_enter_on_a_grid_row_or_its_link_opens_the_details_once(
    open_page: OpenPage, matrix: dict, details: dict, target: str
) -> None:
    page = open_page(matrix, details)
    page.add_init_script(COUNT_DIALOG)
    page.reload()
    row = page.locator(f'#grid tr[data-cell="{LIST_MODULE.id}"]')
    (row if target == "tr" else row.locator("a")).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#details")).to_be_visible()
    expect(page.locator("#details-title")).to_have_text(LIST_MODULE.id)
    page.evaluate("() => new Promise(requestAnimationFrame)")  # let any late activation of the key land
    assert page.evaluate("() => [window.__opened, window.__closed]") == [1, 0]
    expect(page.locator("#details")).to_be_visible()


def test_the_failing_tests_table_gives_each_test_a_row_with_wrapping_error_and_traceback_on_demand(
    open_page: OpenPage,
) -> None:
    records = sample_records()
    long_error = "AssertionError: " + " ".join(["the exported step diverged from eager"] * 40)
    records[0]["runs"]["without"]["tests"][0]["error"] = long_error
    page = open_page(*sample_matrix(records), f"#cell-{LIST_MODULE.id}")
    row = page.locator("#details-failing tbody tr")
    expect(row).to_have_count(1)
    error = row.locator("td.error")
    expect(error.locator(".text")).to_have_text(long_error)
    dialog_width = page.locator("#details").evaluate("d => d.clientWidth")
    assert error.evaluate("td => td.getBoundingClientRect().width") > dialog_width * 0.35
    assert page.locator("#details").evaluate("d => d.scrollWidth <= d.clientWidth")  # wrapped, not widened
    on_demand = error.locator("details.one-test")
    expect(on_demand).not_to_have_attribute("open", "")
    expect(on_demand.locator("pre.traceback")).to_be_hidden()
    on_demand.locator("summary").click()
    expect(on_demand.locator("pre.traceback")).to_be_visible()


def test_at_400_px_the_page_never_scrolls_sideways_the_tables_scroll_in_their_own_box(
    browser: Browser, reports: tuple[dict, dict, dict], tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(render_page(*reports), encoding="utf-8")
    context = browser.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    page.goto((tmp_path / "index.html").as_uri())
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    for box in ("#by-use .scroll", "#grid-box"):
        assert page.locator(box).evaluate("box => box.scrollWidth > box.clientWidth"), box
    page.check("#show-tico")
    page.locator("#grid tbody tr.pair").first.click()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    context.close()


def test_print_shows_every_column_of_every_table_and_leaves_out_the_dialog(
    published: Page, reports: tuple[dict, dict, dict]
) -> None:
    published.set_viewport_size({"width": 1000, "height": 700})  # about a landscape A4 page
    published.locator("#grid tbody tr.pair").first.click()
    published.emulate_media(media="print")
    expect(published.locator("#details")).to_be_hidden()
    assert published.evaluate("() => document.documentElement.scrollWidth") <= 1000
    for box in ("#by-use .scroll", "#grid-box"):
        assert published.locator(box).evaluate("box => box.scrollWidth <= box.clientWidth"), box
    heads = published.locator("#by-use-table thead th, #grid thead th")
    assert heads.count() == 1 + len(reports[2]["pairs"]) + 4 + 3 * len(reports[0]["suites"])
    assert heads.evaluate_all("ths => ths.every(th => { const r = th.getBoundingClientRect(); "
                              "return r.width > 0 && r.right <= 1000; })")
    assert published.locator("#grid thead").evaluate("el => getComputedStyle(el).position") == "static"


def luminance(page: Page, selector: str, prop: str) -> float:
    """The relative brightness (0 black, 1 white) of a computed colour."""
    colour = page.locator(selector).evaluate(f"el => getComputedStyle(el).{prop}")
    red, green, blue = (int(part) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_dark_scheme_gives_a_dark_page_with_light_text(open_page: OpenPage, matrix: dict, details: dict) -> None:
    page = open_page(matrix, details)
    assert luminance(page, "html", "backgroundColor") > 0.8 and luminance(page, "body", "color") < 0.3
    page.emulate_media(color_scheme="dark")
    assert luminance(page, "html", "backgroundColor") < 0.2 and luminance(page, "body", "color") > 0.7
    assert luminance(page, "#grid tbody th >> nth=0", "backgroundColor") < 0.2  # the sticky column follows
    page.locator("#grid tbody tr.pair").first.click()
    assert luminance(page, "#details", "backgroundColor") < 0.2


def test_a_2_mb_error_reaches_the_page_capped_with_a_note_and_its_cell_opens(open_page: OpenPage) -> None:
    records = sample_records()
    huge = "RuntimeError: " + "y" * 2_000_000
    records[0]["runs"]["without"]["tests"][0]["error"] = huge
    page = open_page(*sample_matrix(records))
    data = page.evaluate("() => JSON.parse(document.getElementById('matrix-data').textContent)")
    note = f"… (full text in cells/{LIST_MODULE.id}.json)"
    assert huge[:TEXT_LIMIT] + note in data["texts"]
    assert max(len(text) for text in data["texts"]) == TEXT_LIMIT + len(note)
    page.locator(f'#grid tr[data-cell="{LIST_MODULE.id}"]').click()
    expect(page.locator("#details-failing td.error .text")).to_have_text(huge[:TEXT_LIMIT] + note)
