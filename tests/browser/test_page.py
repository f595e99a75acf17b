"""The published page (reports/index.html) in a real headless Chromium: grid, details, filters, permalinks."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from page_fixtures import (
    CAUSE_DETAIL,
    LAYER,
    LIST_MODULE,
    SUITES,
    UNINSTALLABLE,
    make_test,
    sample_matrix,
    sample_records,
)
from playwright.sync_api import Browser, Page, expect

from kvmatrix.record.answers import uses_document
from kvmatrix.record.columns import discover_suites
from kvmatrix.record.matrix import load_published
from kvmatrix.record.verdicts import summarize_suites
from kvmatrix.render.html import render_page

OpenPage = Callable[..., Page]


def row(page: Page, cell_id: str):
    return page.locator(f'#grid tr[data-cell="{cell_id}"]')


def test_the_grid_has_a_row_per_cell_newest_first_showing_each_verdict_as_text(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details)
    rows = page.locator("#grid tbody tr.pair")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-cell") for i in range(3)] == [
        UNINSTALLABLE.id,
        LAYER.id,
        LIST_MODULE.id,
    ]
    expect(row(page, LIST_MODULE.id).locator("td.static-init")).to_have_text("absent")
    expect(row(page, LAYER.id).locator("td.static-init")).to_have_text("lazy(key)")
    verdicts = row(page, LIST_MODULE.id).locator("td.verdict")
    assert verdicts.all_inner_texts() == [  # the passed/run count sits under the verdict
        "pass\n1/1",
        "fail\n0/1",
        "pass\n1/1",
        "pass\n1/1",
        "pass\n1/1",
        "pass\n1/1",
    ]
    expect(row(page, UNINSTALLABLE.id)).to_contain_text("not-installable")
    expect(row(page, UNINSTALLABLE.id)).to_contain_text("No solution found when resolving")
    expect(page.locator("#generated-at")).to_have_text("2026-11-25T10:00:00Z")


def test_the_published_grid_of_every_suite_fits_a_laptop_window(open_page: OpenPage) -> None:
    published, details = load_published(Path(__file__).resolve().parents[2] / "reports" / "matrix.json")
    for cell in published["cells"]:
        cell["static_layer_init"] = "lazy(key, value)"  # the widest value the column can hold
    page = open_page(published, details)  # 1280 px wide
    assert published["suites"] == discover_suites()  # every column the suites/ files give
    expect(page.locator("#grid tbody tr.pair")).to_have_count(len(published["cells"]))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_verdict_colours_differ_so_pass_and_fail_are_told_apart_at_a_glance(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details)
    cells = row(page, LIST_MODULE.id).locator("td.verdict")
    background = "el => getComputedStyle(el).backgroundColor"
    assert cells.nth(0).evaluate(background) != cells.nth(1).evaluate(background)


def test_clicking_a_cell_opens_its_details(open_page: OpenPage, matrix: dict, details: dict) -> None:
    page = open_page(matrix, details)
    dialog = page.locator("#details")
    expect(dialog).to_be_hidden()
    row(page, LIST_MODULE.id).locator("td.verdict").nth(1).click()
    expect(dialog).to_be_visible()
    expect(page.locator("#details-title")).to_have_text(LIST_MODULE.id)
    expect(page.locator("#repro")).to_have_text(f"nox -s 'cell({LIST_MODULE.id})'")
    failing = page.locator("#details-failing")
    expect(failing).to_contain_text("test_export[DynamicCache-strict]")
    expect(failing).to_contain_text(
        "TypeError: cannot flatten DynamicCache <img src=x onerror=window.__pwned=1>"
    )
    expect(page.locator("#details-metrics")).to_contain_text("recompiles_after_first_step = 0")
    expect(page.locator("#details-freeze")).to_contain_text("numpy==2.4.6")
    expect(page.locator("#details-body dl")).to_contain_text("median 1.50 s, max 2.25 s over 7 exports")
    assert page.evaluate("() => document.querySelectorAll('#details img').length") == 0
    assert page.evaluate("() => window.__pwned") is None  # the error text stayed text
    assert page.evaluate("() => location.hash") == f"#cell-{LIST_MODULE.id}"


def test_closing_the_details_clears_the_permalink(open_page: OpenPage, matrix: dict, details: dict) -> None:
    page = open_page(matrix, details)
    row(page, LAYER.id).click()
    page.keyboard.press("Escape")
    expect(page.locator("#details")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/index\.html$"))  # the dialog's close event clears the hash


def test_a_permalink_opens_that_cell(open_page: OpenPage, matrix: dict, details: dict) -> None:
    page = open_page(matrix, details, f"#cell-{UNINSTALLABLE.id}")
    expect(page.locator("#details")).to_be_visible()
    expect(page.locator("#details-title")).to_have_text(UNINSTALLABLE.id)
    expect(page.locator("#details-body")).to_contain_text("torch==2.13.0 needs python>=3.12")


def test_a_filter_hides_the_rows_that_do_not_match(open_page: OpenPage, matrix: dict, details: dict) -> None:
    page = open_page(matrix, details)
    page.select_option("#filter-layout", "layer")
    expect(row(page, LAYER.id)).to_be_visible()
    expect(row(page, LIST_MODULE.id)).to_be_hidden()
    expect(row(page, UNINSTALLABLE.id)).to_be_hidden()
    expect(page.locator("#shown")).to_have_text("1 of 3 pairs")
    page.select_option("#filter-layout", "")
    page.select_option("#filter-torch", "2.13.0")
    expect(row(page, LIST_MODULE.id)).to_be_hidden()
    expect(page.locator("#grid tbody tr.pair:visible")).to_have_count(2)
    page.select_option("#filter-transformers", "5.24.0")
    expect(page.locator("#grid tbody tr.pair:visible")).to_have_count(1)
    expect(row(page, UNINSTALLABLE.id)).to_be_visible()


def test_the_changes_since_last_run_are_shown_and_link_to_the_cell(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details)
    changes = page.locator("#changes")
    expect(changes).to_contain_text("Compared with the matrix generated at 2026-11-24T10:00:00Z.")
    expect(changes.locator("li.newly_failing")).to_have_text(
        re.compile(rf"newly failing: {re.escape(LIST_MODULE.id)} · export \(without\): pass → fail")
    )
    changes.locator("li.newly_failing a").click()
    expect(page.locator("#details-title")).to_have_text(LIST_MODULE.id)


def test_the_page_requests_nothing_but_itself(
    browser: Browser, matrix: dict, details: dict, tmp_path: Path
) -> None:
    path = tmp_path / "index.html"
    path.write_text(render_page(matrix, details, uses_document(matrix)), encoding="utf-8")
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    row(page, LIST_MODULE.id).click()
    expect(page.locator("#details")).to_be_visible()
    page.close()
    assert requests == [path.as_uri()]


def test_the_grid_fits_a_laptop_screen_without_sideways_scrolling(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280


def test_a_green_banner_at_the_top_says_there_is_no_compat_regression(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details)
    banner = page.locator("#compat-regressions")
    expect(banner).to_be_visible()
    expect(banner).to_have_class(re.compile(r"\bok\b"))
    expect(banner).to_contain_text("No compat regressions")
    assert banner.bounding_box()["y"] < page.locator("#grid").bounding_box()["y"]


def test_a_red_banner_lists_the_compat_regressions_and_links_to_their_cell(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    error = "UnsupportedState: <i>never flattened</i>"
    matrix["cells"][1]["compat_regressions"] = [
        {"suite": "export", "name": "test_wrapper[StaticCache-nonstrict]", "verdict": "fail", "error": error}
    ]
    page = open_page(matrix, details)
    banner = page.locator("#compat-regressions")
    expect(banner).to_have_class(re.compile(r"\bbad\b"))
    expect(banner).to_contain_text("1 compat regression")
    expect(banner).to_contain_text(error)  # as text: the <i> stayed text
    colour = "el => getComputedStyle(el).backgroundColor"
    green = open_page(*sample_matrix()).locator("#compat-regressions")
    assert banner.evaluate(colour) != green.evaluate(colour)
    banner.locator("a").click()
    expect(page.locator("#details-title")).to_have_text(LAYER.id)
    expect(page.locator("#details-body dl")).to_contain_text("1 test passes with transformers alone")


def test_a_failing_tests_cause_detail_upstream_and_reruns_show_in_its_details(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details, f"#cell-{LIST_MODULE.id}")
    failing = page.locator("#details-failing tbody tr")
    expect(failing).to_have_count(1)
    expect(failing.locator("td.cause")).to_contain_text("not-cache")
    expect(failing.locator("td.cause")).to_contain_text(CAUSE_DETAIL)  # as text: the <b> stayed text
    link = failing.locator("td.cause a")
    expect(link).to_have_text("pytorch/pytorch#152465")
    expect(link).to_have_attribute("href", "https://github.com/pytorch/pytorch/issues/152465")
    expect(failing.locator("td.reruns .chip")).to_have_text(["fail"])
    assert page.evaluate("() => document.querySelectorAll('#details b').length") == 0
    expect(page.locator("#details-body dl")).to_contain_text("StaticLayer init")


def test_flaky_and_setup_tests_are_listed_with_their_rate_and_own_colours(open_page: OpenPage) -> None:
    records = sample_records()
    cell = records[1]
    rate = "3/5 runs did not pass (fail 3, pass 2); first error: AssertionError: mask"
    cell["runs"]["with"]["tests"] = [
        {**make_test("export", "test_export[DynamicCache-strict]", "flaky", error="AssertionError: mask"),
         "reason": rate, "reruns": ["pass", "fail", "pass", "fail"]},
        {**make_test("roundtrip", "test_roundtrip[DynamicCache]", "setup", error="eager prefill failed"),
         "cause": "setup", "cause_detail": "the eager prefill raised"},
        make_test("compile", "test_decode_loop_compiles_once", "fail", error="boom"),
    ]
    cell["suites"] = summarize_suites(cell["runs"], SUITES, "ran")
    page = open_page(*sample_matrix(records))
    chips = row(page, LAYER.id).locator("td.verdict")
    assert chips.all_inner_texts()[0::2] == ["flaky\n0/1", "setup\n0/1", "fail\n0/1"]
    background = "el => getComputedStyle(el).backgroundImage + getComputedStyle(el).backgroundColor"
    assert len({chips.nth(i).evaluate(background) for i in (0, 2, 4)}) == 3
    chips.nth(0).click()
    failing = page.locator("#details-failing tbody tr")
    expect(failing.nth(1)).to_contain_text(rate)
    expect(failing.nth(1).locator("td.reruns .chip")).to_have_text(["pass", "fail", "pass", "fail"])
    expect(failing.nth(2)).to_contain_text("the eager prefill raised")
    verdicts = [failing.nth(i).locator(".chip").first.inner_text() for i in range(3)]
    assert verdicts == ["fail", "flaky", "setup"]


def test_the_details_list_every_test_by_mode_and_link_to_the_cells_detail_file(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details, f"#cell-{LIST_MODULE.id}")
    every = page.locator("#details-all")
    expect(every.locator("summary")).to_have_text("All tests (3)")
    export = every.locator("tbody tr", has_text="test_export[DynamicCache-strict]")
    expect(export.locator(".chip")).to_have_text(["pass", "fail"])
    link = page.locator("#detail-link")
    expect(link).to_have_text(f"cells/{LIST_MODULE.id}.json")
    expect(link).to_have_attribute("href", f"cells/{LIST_MODULE.id}.json")
    expect(page.locator("#details-body dl")).to_contain_text("pytest exit 1 in 31.0 s, 3 tests")
    embedded = page.evaluate("() => document.getElementById('matrix-data').textContent")
    assert "1 failed" not in embedded  # the log tails stay in the detail file


def _serve(folder: Path):
    """A local HTTP server of `folder` (as GitHub Pages serves reports/), on a free port, in a thread."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_failing_test_offers_its_one_line_rerun_and_its_traceback_from_the_detail_file(
    browser: Browser, matrix: dict, details: dict, tmp_path: Path
) -> None:
    import json

    (tmp_path / "index.html").write_text(render_page(matrix, details, uses_document(matrix)), encoding="utf-8")
    detail = json.loads(json.dumps(details[LIST_MODULE.id]))
    (failing_record,) = [t for t in detail["runs"]["without"]["tests"] if t["verdict"] == "fail"]
    failing_record["traceback"] = "Traceback line one\nE   AssertionError: <b>the real failure</b>"
    cell = next(c for c in matrix["cells"] if c["id"] == LIST_MODULE.id)
    (tmp_path / cell["detail"]).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / cell["detail"]).write_text(json.dumps(detail), encoding="utf-8")
    server = _serve(tmp_path)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html#cell-{LIST_MODULE.id}")
        alone = page.locator("#details-failing tbody tr details.one-test")
        alone.locator("summary").click()
        nodeid = f"suites/test_{failing_record['suite']}.py::{failing_record['name']}"
        expect(alone.locator("code")).to_have_text(
            f"python -m kvmatrix.run.one_test --pair {LIST_MODULE.id} --mode without '{nodeid}'")
        expect(alone.locator("pre.traceback")).to_have_text(failing_record["traceback"])
        page.close()
    finally:
        server.shutdown()


def test_opened_as_a_local_file_the_traceback_button_says_where_to_find_it(
    open_page: OpenPage, matrix: dict, details: dict
) -> None:
    page = open_page(matrix, details, f"#cell-{LIST_MODULE.id}")
    alone = page.locator("#details-failing tbody tr details.one-test")
    alone.locator("summary").click()
    expect(alone.locator("pre.traceback")).to_contain_text("run the command above")


PHONE = {"width": 400, "height": 800}


def _on_a_phone(browser: Browser, matrix: dict, details: dict, folder: Path, fragment: str = ""):
    """A 400 px wide page of `matrix` (and its context, to close)."""
    (folder / "index.html").write_text(render_page(matrix, details, uses_document(matrix)), encoding="utf-8")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto((folder / "index.html").as_uri() + fragment)
    return context, page


def test_on_a_phone_width_screen_the_tables_scroll_in_their_own_box_keeping_the_first_column(
    browser: Browser, matrix: dict, details: dict, tmp_path: Path
) -> None:
    context, page = _on_a_phone(browser, matrix, details, tmp_path)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    for box, first in (("#grid-box", "#grid tbody tr th"), ("#by-use .scroll", "#by-use-table tbody th")):
        assert page.evaluate(f"() => document.querySelector('{box}').scrollWidth "
                             f"> document.querySelector('{box}').clientWidth"), box
        page.evaluate(f"() => {{ document.querySelector('{box}').scrollLeft = 100000; }}")
        left = page.evaluate(f"() => document.querySelector('{first}').getBoundingClientRect().left")
        assert 0 <= left < 40, (box, left)
    context.close()


def test_on_a_phone_width_screen_the_details_close_button_is_reachable(
    browser: Browser, matrix: dict, details: dict, tmp_path: Path
) -> None:
    context, page = _on_a_phone(browser, matrix, details, tmp_path, f"#cell-{LIST_MODULE.id}")
    close = page.locator("#details .close button")
    expect(close).to_be_visible()
    box = close.bounding_box()
    assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 400
    close.click()
    expect(page.locator("#details")).to_be_hidden()
    context.close()
