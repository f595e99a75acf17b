"""kvmatrix.render.html: the static page is self-contained, embeds the matrix and the trimmed details exactly and
renders the grid.

The page's behaviour in a real browser (details, filters, permalinks) is tested in tests/browser.
"""

from __future__ import annotations

import copy
import json
from html import unescape
from html.parser import HTMLParser

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.publish.history import diff
from kvmatrix.record.answers import uses_document
from kvmatrix.record.uses import USES
from kvmatrix.render.html import PAGE_ASSETS, embedded_data, render_page
from kvmatrix.render.page_data import TEXT_LIMIT, page_data

HOSTILE = "</script><script>alert(1)</script><!-- & \u2028"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


@pytest.fixture
def both(pins: Pins, ran_cell: dict, uninstallable_cell: dict, published) -> tuple[dict, dict]:
    ran_cell["runs"]["without"]["tests"][0]["error"] = HOSTILE
    ran_cell["runs"]["with"]["log_tail"] = "a long pytest log"
    current, details = published(pins, [uninstallable_cell, ran_cell])
    previous = copy.deepcopy(current)
    previous["generated_at"] = "2026-11-24T10:00:00Z"
    previous["cells"][1]["suites"]["export"]["without"]["verdict"] = "pass"
    current["changes"] = diff(previous, current, details)
    return current, details


def test_the_embedded_data_is_the_page_data_and_no_text_in_it_can_escape(matrix: dict, details: dict) -> None:
    page = parse(render_page(matrix, details, uses_document(matrix)))
    data = [text for attrs, text in page.scripts if attrs.get("type") == "application/json"]
    assert len(data) == 1 and json.loads(data[0]) == embedded_data(matrix, details, uses_document(matrix))
    assert len(page.scripts) == 2  # the data and the page's own script: the hostile error opened none


def decoded(data: dict, table: str, code: str) -> str:
    """The value of `table` (`verdicts`, `causes`) that a code of the page data stands for."""
    return data[table][data["codes"].index(code)]


def expanded_tests(data: dict, index: int) -> dict:
    """The compact test table of the page data's cell `index` expanded as page.js expands it."""
    compact = data["matrix"]["cells"][index]["tests"]
    tests: dict = {}
    for mode, codes in zip(data["modes"], compact["codes"], strict=False):
        for key, code in enumerate(codes):
            if code != "-":
                tests.setdefault(data["keys"][key], {})[mode] = [decoded(data, "verdicts", code)]
    for mode, codes in zip(data["modes"], compact["causes"], strict=False):
        for key, code in enumerate(codes):
            if code != "-":
                tests[data["keys"][key]][mode].append(decoded(data, "causes", code))
    for key, mode, *rest in compact["notes"]:
        tests[data["keys"][key]][data["modes"][mode]] += rest
    return tests


def expanded_messages(data: dict, cell_id: str) -> dict:
    """The messages of one cell of the page data expanded as page.js expands them."""
    def message(text: int, cause_detail: int = -1, reruns: str = "") -> dict:
        return {"text": data["texts"][text], **({"cause_detail": data["texts"][cause_detail]}
                                                 if cause_detail >= 0 else {}),
                **({"reruns": [decoded(data, "verdicts", code) for code in reruns]} if reruns else {})}
    return {mode: {data["keys"][key]: message(*rest) for key, *rest in listed}
            for mode, listed in data["details"][cell_id]["messages"].items()}


def test_the_page_embeds_the_matrix_without_changes_and_only_the_messages_of_tests_that_did_not_pass(
    matrix: dict, details: dict
) -> None:
    data = page_data(matrix, details)
    assert data["matrix"].keys() == matrix.keys() - {"changes"}
    for index, cell in enumerate(matrix["cells"]):
        assert expanded_tests(data, index) == cell["tests"]
        assert data["matrix"]["cells"][index].keys() == cell.keys()
    ran = data["details"]["tf4.57.6-torch2.13.0"]
    assert ran["runs"] == {"with": {"exit_code": 0, "duration_s": 40.0},
                           "without": {"exit_code": 1, "duration_s": 41.0}}
    assert ran["freeze"] == ["torch==2.13.0+cpu", "transformers==4.57.6"]
    xfail = {"text": "known: torch.compile graph break on DynamicLayer.update (pytorch#123)"}
    assert expanded_messages(data, "tf4.57.6-torch2.13.0") == {
        "with": {"compile::test_compile_decode[DynamicCache]": xfail},
        "without": {
            "export::test_export[DynamicCache-strict]": {"text": HOSTILE},
            "export::test_export[DynamicCache-nonstrict]": {
                "text": "TypeError: cannot flatten DynamicCache object at 0x55d0e4a1b2c0 (layer 1)"},
            "compile::test_compile_decode[DynamicCache]": xfail,
        },
    }
    assert "a long pytest log" not in json.dumps(data)
    assert data["details"]["tf4.46.3-torch2.5.1"] == {"runs": {}, "freeze": [], "finished_at": None,
                                                          "reused_from": None, "messages": {}}


def test_each_test_key_and_message_text_is_embedded_once(matrix: dict, details: dict) -> None:
    data = page_data(matrix, details)
    assert len(set(data["keys"])) == len(data["keys"]) and len(set(data["texts"])) == len(data["texts"])
    xfail = "known: torch.compile graph break on DynamicLayer.update (pytorch#123)"
    assert json.dumps(data).count(json.dumps(xfail)) == 1  # listed in both modes, written once


def test_a_text_over_the_limit_is_capped_with_a_note_naming_the_detail_file(
    pins: Pins, ran_cell: dict, published
) -> None:
    huge = "RuntimeError: " + "x" * 2_000_000
    ran_cell["runs"]["without"]["tests"][0]["error"] = huge
    ran_cell["runs"]["without"]["tests"][0]["cause_detail"] = huge
    matrix, details = published(pins, [ran_cell])
    matrix["cells"][0]["compat_regressions"] = [{"suite": "export", "name": "test_x", "verdict": "fail", "error": huge}]
    data = page_data(matrix, details)
    note = "… (full text in cells/tf4.57.6-torch2.13.0.json)"
    capped = huge[:TEXT_LIMIT] + note
    message = expanded_messages(data, "tf4.57.6-torch2.13.0")["without"]["export::test_export[DynamicCache-strict]"]
    assert message == {"text": capped, "cause_detail": capped}
    assert data["matrix"]["cells"][0]["compat_regressions"][0]["error"] == capped
    page = render_page(matrix, details, uses_document(matrix))
    assert len(page) < 200_000 and capped in page  # the banner shows the capped text too


def test_a_flaky_tests_message_is_its_rate_with_its_cause_detail_and_reruns() -> None:
    flaky = {"suite": "export", "name": "test_x", "verdict": "flaky", "error": "AssertionError: mask",
             "reason": "2/5 runs did not pass (fail 2, pass 3); first error: AssertionError: mask",
             "cause": "cache", "cause_detail": "without a cache the same export passes",
             "reruns": ["pass", "fail"], "metrics": {"export_s": 1.0}, "duration_s": 3.0}
    detail = {"runs": {"with": {"exit_code": 1, "duration_s": 9.0, "tests": [flaky]}}, "freeze": []}
    cell = {"id": "tf4.57.6-torch2.13.0", "detail": "cells/tf4.57.6-torch2.13.0.json", "tests": {}}
    data = page_data({"cells": [cell]}, {cell["id"]: detail})
    assert expanded_messages(data, cell["id"]) == {"with": {"export::test_x": {
        "text": flaky["reason"], "cause_detail": flaky["cause_detail"], "reruns": ["pass", "fail"]}}}


def test_the_page_loads_nothing_from_outside(matrix: dict, details: dict) -> None:
    page = render_page(matrix, details, uses_document(matrix))
    elements = parse(page)
    assert not [attrs for _, attrs in elements.tags if attrs.get("src") is not None]
    links = [attrs["href"] for _, attrs in elements.tags if attrs.get("href") is not None]
    # fragments, and the other published matrices' pages beside this one
    assert links and all(link.startswith("#") or link in ("index.html", "latest/index.html", "full/index.html")
                         for link in links)
    assert not [tag for tag, _ in elements.tags if tag in ("link", "img", "iframe", "object", "embed")]
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_the_grid_has_one_row_per_cell_newest_first_with_filter_data(matrix: dict, details: dict) -> None:
    rows = [
        attrs
        for tag, attrs in parse(render_page(matrix, details, uses_document(matrix))).tags
        if tag == "tr" and attrs.get("class") == "pair"
    ]
    assert [(row["id"], row["data-layout"], row["data-torch"], row["data-transformers"]) for row in rows] == [
        ("cell-tf4.57.6-torch2.13.0", "layer", "2.13.0", "4.57.6"),
        ("cell-tf4.46.3-torch2.5.1", "not run", "2.5.1", "4.46.3"),
    ]


def test_the_grid_leaves_a_ran_pairs_verdicts_to_the_script_and_spans_a_status_across_the_suites(
    matrix: dict, details: dict
) -> None:
    page = render_page(matrix, details, uses_document(matrix))
    # a ran pair's verdicts are drawn from its suites in the page data (tests/browser/test_page.py reads them)
    assert 'class="verdict' not in page.partition('id="cell-tf4.57.6-torch2.13.0"')[2].partition("</tr>")[0]
    # a cell that did not run gets one status cell across the suites, with the resolver's reason
    assert 'colspan="6"' in page and "ResolutionImpossible: transformers 4.46.3 requires" in page


def test_filters_offer_the_versions_newest_first_every_use_the_answers_given_and_every_layout(
    pins: Pins, make_cell, ran_cell: dict, published
) -> None:
    other = {**make_cell("4.46.3", "2.5.1", ran_cell["runs"]), "layout": "list"}
    matrix, details = published(pins, [ran_cell, other])
    page = render_page(matrix, details, uses_document(matrix))
    options: dict[str, list[str]] = {}
    select = None
    for tag, attrs in parse(page).tags:
        if tag == "select":
            select = attrs["id"]
        elif tag == "option" and select:
            options.setdefault(select, []).append(attrs["value"])
    assert options.pop("filter-use") == ["", *(use.key for use in USES)]
    assert options.pop("filter-answer")[0] == ""
    assert options == {
        "filter-layout": ["", "list", "list-module", "layer"],
        "filter-torch": ["", "2.13.0", "2.5.1"],
        "filter-transformers": ["", "4.57.6", "4.46.3"],
        "filter-tico": ["", "TICO passes tests compat does not", "compat does at least as well", "not compared"],
    }


def test_the_answer_filter_offers_exactly_the_answers_the_uses_give(pins: Pins, ran_cell: dict, published) -> None:
    matrix, details = published(pins, [ran_cell])
    uses = uses_document(matrix)
    given = {found["answer"] for use in uses["uses"] for found in use["answers"].values()}
    offered = [attrs["value"] for tag, attrs in parse(render_page(matrix, details, uses)).tags
               if tag == "option" and attrs["value"] in given]
    assert sorted(offered) == sorted(given) and len(offered) == len(set(offered))


def test_changes_section_shows_newly_failing_suites_and_tests(matrix: dict, details: dict) -> None:
    page = render_page(matrix, details, uses_document(matrix))
    changes = page[page.index('<section id="changes">') : page.index('<section id="legend">')]
    assert "Compared with the matrix generated at <time>2026-11-24T10:00:00Z</time>." in changes
    assert (
        'newly failing: <a href="#cell-tf4.57.6-torch2.13.0">tf4.57.6-torch2.13.0</a> · export (without): '
        '<span class="chip v-pass">pass</span> → <span class="chip v-fail">fail</span>'
    ) in changes


def test_a_matrix_without_recorded_changes_says_so(matrix: dict, details: dict) -> None:
    del matrix["changes"]
    assert "<p>Not recorded for this matrix.</p>" in render_page(matrix, details, uses_document(matrix))


def test_the_generated_at_stamp_is_shown(matrix: dict, details: dict) -> None:
    assert (
        '<time id="generated-at" datetime="2026-11-25T10:00:00Z">2026-11-25T10:00:00Z</time>'
        in render_page(matrix, details, uses_document(matrix))
    )


def test_render_is_deterministic(matrix: dict, details: dict) -> None:
    assert render_page(matrix, details, uses_document(matrix)) == render_page(*json.loads(json.dumps([matrix, details, uses_document(matrix)])))


def test_a_green_banner_at_the_top_says_there_is_no_compat_regression(matrix: dict, details: dict) -> None:
    page = render_page(matrix, details, uses_document(matrix))
    banner = page[page.index('<section id="compat-regressions"') : page.index("</section>", page.index('<section id="compat-regressions"'))]
    assert 'class="banner ok"' in banner and "No compat regressions" in banner
    assert page.index('id="compat-regressions"') < page.index('id="filters"') < page.index('id="grid"')


def test_a_red_banner_lists_each_compat_regression_escaped(matrix: dict, details: dict) -> None:
    matrix["cells"][1]["compat_regressions"] = [
        {"suite": "export", "name": "test_wrapper[<b>]", "verdict": "fail", "error": HOSTILE}
    ]
    page = render_page(matrix, details, uses_document(matrix))
    banner = page[page.index('<section id="compat-regressions"') : page.index("</section>", page.index('<section id="compat-regressions"'))]
    assert 'class="banner bad"' in banner and "1 compat regression</strong>" in banner
    assert (
        '<a href="#cell-tf4.57.6-torch2.13.0">tf4.57.6-torch2.13.0</a> · export · '
        "<code>test_wrapper[&lt;b&gt;]</code>"
    ) in banner
    assert '<span class="chip v-fail">fail</span>' in banner
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in banner
    assert len(parse(page).scripts) == 2


def test_the_grid_shows_the_static_layer_init_style_after_the_layout(matrix: dict, details: dict) -> None:
    page = render_page(matrix, details, uses_document(matrix))
    assert (
        '<th rowspan="2" scope="col">layout</th>'
        '<th rowspan="2" scope="col" class="static-init">StaticLayer init</th>'
    ) in page
    assert '<td class="layout">layer</td><td class="static-init">lazy(key)</td>' in page
    assert '<td class="layout">not run</td><td class="static-init">—</td>' in page


def test_the_legend_has_flaky_and_setup_chips_and_every_cause(matrix: dict, details: dict) -> None:
    legend = render_page(matrix, details, uses_document(matrix)).partition('<section id="legend">')[2]
    assert '<span class="chip v-flaky">flaky</span>' in legend
    assert '<span class="chip v-setup">setup</span>' in legend
    for cause in ("setup", "not-cache", "cache", "compat", "unattributed"):
        assert f'<code class="cause">{cause}</code>' in legend


def test_flaky_and_setup_chips_have_their_own_colours() -> None:
    css = (PAGE_ASSETS / "page.css").read_text()
    assert ".v-flaky {" in css and ".v-setup {" in css


@pytest.mark.parametrize(("dataset", "links"), [
    ("default", {"index.html": True, "latest/index.html": False, "full/index.html": False}),
    ("latest", {"../index.html": False, "index.html": True, "../full/index.html": False}),
    ("full", {"../index.html": False, "../latest/index.html": False, "index.html": True}),
])
def test_each_published_matrix_links_to_the_other_two_and_marks_its_own(
    matrix: dict, details: dict, dataset: str, links: dict[str, bool]
) -> None:
    uses = {**uses_document(matrix), "dataset": dataset}
    page = render_page(matrix, details, uses)
    nav = page[page.index('<nav id="datasets"'):page.index("</nav>")]
    found = {attrs["href"]: "aria-current" in attrs for tag, attrs in parse(nav).tags if tag == "a"}
    assert found == links


def test_the_page_offers_a_copyable_badge_for_every_pair_and_use_of_its_own_folder() -> None:
    from kvmatrix import REPO_ROOT
    from kvmatrix.record.matrix import load_published

    for folder in ("", "latest/"):
        matrix, details = load_published(REPO_ROOT / "reports" / folder / "matrix.json")
        uses = json.loads((REPO_ROOT / "reports" / folder / "uses.json").read_text(encoding="utf-8"))
        page = render_page(matrix, details, uses)
        snippets = unescape(page.partition('<details id="badge-snippets">')[2].partition("</details>")[0])
        for name in [f"pair-{cell['id']}.json" for cell in matrix["cells"]] + [f"use-{use['key']}.json"
                                                                             for use in uses["uses"]]:
            assert f"reports%2F{folder.replace('/', '%2F')}badges%2F{name}" in snippets, name
            assert (REPO_ROOT / "reports" / folder / "badges" / name).is_file(), name
