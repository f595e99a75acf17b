"""kvmatrix.html: the static page is self-contained, embeds the matrix exactly and renders the grid.

The page's behaviour in a real browser (details, filters, permalinks) is tested in tests/browser.
"""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from typing import Any

import pytest

from kvmatrix.history import diff
from kvmatrix.html import PAGE_ASSETS, render_page
from kvmatrix.pins import Pins
from kvmatrix.report import new_matrix

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
def matrix(pins: Pins, ran_cell: dict, uninstallable_cell: dict, suites: list[str]) -> dict[str, Any]:
    ran_cell["runs"]["without"]["tests"][0]["error"] = HOSTILE
    current = new_matrix(pins, [uninstallable_cell, ran_cell], generated_at="2026-11-25T10:00:00Z", suites=suites)
    previous = copy.deepcopy(current)
    previous["generated_at"] = "2026-11-24T10:00:00Z"
    previous["cells"][1]["suites"]["export"]["without"]["verdict"] = "pass"
    current["changes"] = diff(previous, current)
    return current


def test_the_embedded_data_is_the_matrix_and_no_text_in_it_can_escape(matrix: dict) -> None:
    page = parse(render_page(matrix))
    data = [text for attrs, text in page.scripts if attrs.get("type") == "application/json"]
    assert len(data) == 1 and json.loads(data[0]) == matrix
    assert len(page.scripts) == 2  # the data and the page's own script: the hostile error opened none


def test_the_page_loads_nothing_from_outside(matrix: dict) -> None:
    page = render_page(matrix)
    elements = parse(page)
    links = [
        attrs[key] for _, attrs in elements.tags for key in ("src", "href") if attrs.get(key) is not None
    ]
    assert links and all(link.startswith("#") for link in links)
    assert not [tag for tag, _ in elements.tags if tag in ("link", "img", "iframe", "object", "embed")]
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style


def test_the_grid_has_one_row_per_cell_in_matrix_order_with_filter_data(matrix: dict) -> None:
    rows = [
        attrs
        for tag, attrs in parse(render_page(matrix)).tags
        if tag == "tr" and attrs.get("class") == "pair"
    ]
    assert [(row["id"], row["data-layout"], row["data-torch"], row["data-transformers"]) for row in rows] == [
        ("cell-tf4.46.3-torch2.5.1", "not run", "2.5.1", "4.46.3"),
        ("cell-tf4.57.6-torch2.13.0", "layer", "2.13.0", "4.57.6"),
    ]


def test_verdicts_show_as_text_with_passed_over_run_counts(matrix: dict) -> None:
    page = render_page(matrix)
    assert '<span class="chip v-fail">fail <span class="count">1/3</span></span>' in page
    assert '<span class="chip v-xfail">xfail <span class="count">0/1</span></span>' in page
    # a cell that did not run gets one status cell across the suites, with the resolver's reason
    assert 'colspan="6"' in page and "ResolutionImpossible: transformers 4.46.3 requires" in page


def test_filters_offer_every_layout_and_the_versions_in_version_order(
    pins: Pins, make_cell, ran_cell: dict, suites: list[str]
) -> None:
    other = {**make_cell("4.46.3", "2.5.1", ran_cell["runs"]), "layout": "list"}
    page = render_page(new_matrix(pins, [ran_cell, other], generated_at="2026-11-25T10:00:00Z", suites=suites))
    options: dict[str, list[str]] = {}
    select = None
    for tag, attrs in parse(page).tags:
        if tag == "select":
            select = attrs["id"]
        elif tag == "option" and select:
            options.setdefault(select, []).append(attrs["value"])
    assert options == {
        "filter-layout": ["", "list", "list-module", "layer"],
        "filter-torch": ["", "2.5.1", "2.13.0"],
        "filter-transformers": ["", "4.46.3", "4.57.6"],
    }


def test_changes_section_shows_newly_failing_suites_and_tests(matrix: dict) -> None:
    page = render_page(matrix)
    changes = page[page.index('<section id="changes">') : page.index('<section id="legend">')]
    assert "Compared with the matrix generated at <time>2026-11-24T10:00:00Z</time>." in changes
    assert (
        'newly failing: <a href="#cell-tf4.57.6-torch2.13.0">tf4.57.6-torch2.13.0</a> · export (without): '
        '<span class="chip v-pass">pass</span> → <span class="chip v-fail">fail</span>'
    ) in changes


def test_a_matrix_without_recorded_changes_says_so(matrix: dict) -> None:
    del matrix["changes"]
    assert "<p>Not recorded for this matrix.</p>" in render_page(matrix)


def test_the_generated_at_stamp_is_shown(matrix: dict) -> None:
    assert (
        '<time id="generated-at" datetime="2026-11-25T10:00:00Z">2026-11-25T10:00:00Z</time>'
        in render_page(matrix)
    )


def test_render_is_deterministic(matrix: dict) -> None:
    assert render_page(matrix) == render_page(json.loads(json.dumps(matrix)))


def test_a_green_banner_at_the_top_says_there_is_no_compat_regression(matrix: dict) -> None:
    page = render_page(matrix)
    banner = page[page.index('<section id="compat-regressions"') : page.index("</section>")]
    assert 'class="banner ok"' in banner and "No compat regressions" in banner
    assert page.index('id="compat-regressions"') < page.index('id="filters"') < page.index('id="grid"')


def test_a_red_banner_lists_each_compat_regression_escaped(matrix: dict) -> None:
    matrix["cells"][1]["compat_regressions"] = [
        {"suite": "export", "name": "test_wrapper[<b>]", "verdict": "fail", "error": HOSTILE}
    ]
    page = render_page(matrix)
    banner = page[page.index('<section id="compat-regressions"') : page.index("</section>")]
    assert 'class="banner bad"' in banner and "1 compat regression</strong>" in banner
    assert (
        '<a href="#cell-tf4.57.6-torch2.13.0">tf4.57.6-torch2.13.0</a> · export · '
        "<code>test_wrapper[&lt;b&gt;]</code>"
    ) in banner
    assert '<span class="chip v-fail">fail</span>' in banner
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in banner
    assert len(parse(page).scripts) == 2


def test_the_grid_shows_the_static_layer_init_style_after_the_layout(matrix: dict) -> None:
    page = render_page(matrix)
    assert (
        '<th rowspan="2" scope="col">layout</th>'
        '<th rowspan="2" scope="col" class="static-init">StaticLayer init</th>'
    ) in page
    assert '<td class="layout">layer</td><td class="static-init">lazy(key)</td>' in page
    assert '<td class="layout">not run</td><td class="static-init">—</td>' in page


def test_the_legend_has_flaky_and_setup_chips_and_every_cause(matrix: dict) -> None:
    legend = render_page(matrix).partition('<section id="legend">')[2]
    assert '<span class="chip v-flaky">flaky</span>' in legend
    assert '<span class="chip v-setup">setup</span>' in legend
    for cause in ("setup", "not-cache", "cache", "compat", "unattributed"):
        assert f'<code class="cause">{cause}</code>' in legend


def test_flaky_and_setup_chips_have_their_own_colours() -> None:
    css = (PAGE_ASSETS / "page.css").read_text()
    assert ".v-flaky {" in css and ".v-setup {" in css
