"""The page with a cell run a third time under TICO's own registration and with client suites: the third
mode in a pair's details, the compat vs TICO section and filter, and a client that could not be installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from page_fixtures import LAYER, LIST_MODULE, SUITES, make_test, sample_matrix, sample_records
from playwright.sync_api import Page, expect

from kvmatrix.record.causes import compare_with_tico
from kvmatrix.record.verdicts import summarize_suites

OpenPage = Callable[..., Page]
COMPAT_ERROR = "AssertionError: compiled loop diverged from eager"
TICO_ERROR = "TypeError: cannot flatten StaticCache under TICO's registration"
NO_EXECUTORCH = "executorch 1.0.1 requires torch>=2.9"


def with_tico(record: dict[str, Any], with_: list[dict[str, Any]], tico: list[dict[str, Any]],
              clients: dict[str, Any] | None = None) -> None:
    """`record` given these `with` tests, a `tico` run of `tico` and `clients`, summarised and compared as a
    cell run records them."""
    record["runs"]["with"]["tests"] = with_
    record["runs"]["tico"] = {"exit_code": 1, "duration_s": 20.0, "log_tail": "", "tests": tico}
    record.update(compare_with_tico(record["runs"]), **({"clients": clients} if clients else {}))
    record["suites"] = summarize_suites(record["runs"], [*SUITES, "executorch"], "ran", clients)


def tico_sample() -> tuple[dict[str, Any], dict[str, Any]]:
    """The sample matrix where the list-module pair's compiled loop passes only under TICO's registration,
    the layer pair's export only under compat's, and the layer pair could not install ExecuTorch."""
    records = sample_records()
    passing = [make_test("export", "test_export[DynamicCache-strict]", "pass"),
               make_test("roundtrip", "test_roundtrip[DynamicCache]", "pass")]
    with_tico(records[0], [*passing, make_test("compile", "test_decode_loop_compiles_once", "fail", COMPAT_ERROR)],
              [*passing, make_test("compile", "test_decode_loop_compiles_once", "pass")])
    with_tico(records[1], [*passing, make_test("compile", "test_decode_loop_compiles_once", "pass")],
              [make_test("export", "test_export[DynamicCache-strict]", "fail", TICO_ERROR), *passing[1:]],
              {"executorch": {"status": "not-installable", "reason": NO_EXECUTORCH, "installed": None}})
    matrix, details = sample_matrix(records)
    matrix["suites"].append("executorch")
    return matrix, details


def show_tico(page: Page) -> None:
    """Turn on the page's TICO toggle."""
    page.check("#show-tico")


def test_the_compat_vs_tico_section_lists_each_test_passing_only_under_ticos_registration(
    open_page: OpenPage,
) -> None:
    page = open_page(*tico_sample())
    section = page.locator("#compat-vs-tico")
    expect(section).to_be_hidden()  # TICO's registration is off by default
    show_tico(page)
    expect(section).to_be_visible()
    expect(section).to_contain_text(f"{LIST_MODULE.id}: 1 pass only with TICO's registration, 0 only with")
    expect(section).to_contain_text(f"{LAYER.id}: 0 pass only with TICO's registration, 1 only with")
    expect(section.locator("li li")).to_have_text(f"compile · test_decode_loop_compiles_once: fail with compat "
                                                  f"{COMPAT_ERROR}")


def test_the_vs_tico_filter_shows_the_pairs_where_tico_passes_a_test_compat_does_not(
    open_page: OpenPage,
) -> None:
    page = open_page(*tico_sample())
    expect(page.locator("#filter-tico")).to_be_hidden()
    show_tico(page)
    page.select_option("#filter-tico", "TICO passes tests compat does not")
    expect(page.locator("#grid tr.pair:visible")).to_have_count(1)
    expect(page.locator(f'#grid tr[data-cell="{LIST_MODULE.id}"]')).to_be_visible()
    page.select_option("#filter-tico", "not compared")
    expect(page.locator("#grid tr.pair:visible")).to_have_count(1)
    expect(page.locator("#shown")).to_have_text("1 of 3 pairs")


def test_a_pairs_details_show_the_tico_mode_only_with_tico_shown(open_page: OpenPage) -> None:
    page = open_page(*tico_sample(), f"#cell-{LAYER.id}")
    body = page.locator("#details-body")
    expect(body.locator("table").first.locator("thead th")).to_have_text(
        ["suite", "with registration", "without registration"])
    expect(page.locator("#details-failing")).not_to_contain_text(TICO_ERROR)
    page.keyboard.press("Escape")
    show_tico(page)
    page.locator(f'#grid tr[data-cell="{LAYER.id}"]').click()
    expect(body.locator("dl")).to_contain_text("compat vs TICO0 passing only with TICO's registration, 1 only")
    expect(body.locator("table").first.locator("thead th")).to_have_text(
        ["suite", "with registration", "without registration", "TICO registration"])
    failing = page.locator("#details-failing tbody tr", has_text=TICO_ERROR)
    expect(failing.locator("td.test .where")).to_have_text("export · tico")
    expect(page.locator("#details-all thead th")).to_have_text(["suite", "test", "with", "without", "tico"])
    expect(body.locator("dl")).to_contain_text("run tico")


def test_a_client_that_could_not_be_installed_shows_its_status_and_reason_not_an_error(open_page: OpenPage) -> None:
    page = open_page(*tico_sample(), f"#cell-{LAYER.id}")
    executorch = page.locator("#details-body table").first.locator("tbody tr", has_text="executorch")
    expect(executorch.locator(".chip")).to_have_text(["not-installable", "not-installable"])
    expect(executorch).to_contain_text(NO_EXECUTORCH)
    expect(page.locator("#details-body dl")).to_contain_text(f"executorch not-installable: {NO_EXECUTORCH}")
    grid_cell = page.locator(f'#grid tr[data-cell="{LAYER.id}"] td.verdict').nth(6)
    expect(grid_cell).to_have_attribute("title", f"executorch with registration: not-installable ({NO_EXECUTORCH})")
