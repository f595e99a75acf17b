"""The page of the published default matrix (reports/), rendered as publish renders it: small enough to open
anywhere, also once the matrix has grown, and no Markdown left in its text."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.record.answers import uses_document
from kvmatrix.record.matrix import load_published
from kvmatrix.record.uses import FAMILIES, FAMILY_ROUTES, FAMILY_SUITE
from kvmatrix.record.verdicts import RAN, summarize_suites
from kvmatrix.render.html import render_page

REPORTS = Path(__file__).resolve().parents[3] / "reports"
MAX_BYTES = 400_000


class Text(HTMLParser):
    """The text a reader sees as prose: every text node outside <script>, <style> and <code> (code is shown
    as code: the badge snippets are Markdown to copy), and every title attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style", "code")
        self.parts += [value for name, value in attrs if name == "title" and value]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "code")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


@pytest.fixture(scope="module")
def published_page() -> bytes:
    matrix, details = load_published(REPORTS / "matrix.json")
    uses = json.loads((REPORTS / "uses.json").read_text(encoding="utf-8"))
    return render_page(matrix, details, uses).encode()


def test_the_published_default_page_is_under_400_kb(published_page: bytes) -> None:
    assert len(published_page) < MAX_BYTES, f"index.html would be {len(published_page):,} bytes"


COPIED_SUITES = {"export": "decompose"}
"""The suites whose tests a grown matrix runs again under another suite's name, as the decompose suite (built,
not yet published) adds about as many tests."""


def grown(matrix: dict[str, Any], details: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The published matrix grown as the next publish will grow it: in every ran cell the tests of COPIED_SUITES
    again under their new suites, each error a text of its own, and the model family tests (half of them
    failing without compat)."""
    matrix, details = copy.deepcopy(matrix), copy.deepcopy(details)
    matrix["suites"] = [*matrix["suites"], *COPIED_SUITES.values(), FAMILY_SUITE]
    for cell in matrix["cells"]:
        if cell["status"] == RAN:
            _grow(cell, details[cell["id"]], matrix["suites"])
    return matrix, details


def _grow(cell: dict[str, Any], detail: dict[str, Any], suites: list[str]) -> None:
    """One ran cell grown (see `grown`): its detail's runs, then its test table and suite summaries."""
    for mode, run in detail["runs"].items():
        tests = run.get("tests", [])
        tests += [{**test, "suite": COPIED_SUITES[test["suite"]],
                   "error": test["error"] and f"{test['error']} (under {COPIED_SUITES[test['suite']]})"}
                  for test in tests if test["suite"] in COPIED_SUITES]
        if mode != "tico":  # the core suites alone run under TICO's registration
            tests += [{"suite": FAMILY_SUITE, "name": f"{test}[{family.key}]", "duration_s": 9.0,
                       "verdict": "fail" if mode == "without" and at % 2 else "pass", "reason": None,
                       "error": f"AssertionError: {family.key} logits differ from eager after {test}" if at % 2 else None,
                       "cause": "cache", "cause_detail": None, "upstream": None, "metrics": {}, "reruns": []}
                      for at, family in enumerate(FAMILIES) for _, _, test, _ in FAMILY_ROUTES]
        run["tests"] = tests
    for mode, run in detail["runs"].items():
        for test in run["tests"]:
            entry = [test["verdict"], *([test["cause"]] if test["verdict"] != "pass" and test.get("cause") else [])]
            cell["tests"].setdefault(f"{test['suite']}::{test['name']}", {})[mode] = entry
    cell["suites"] = summarize_suites(detail["runs"], suites, RAN, cell.get("clients"))


@pytest.fixture(scope="module")
def grown_page() -> bytes:
    matrix, details = grown(*load_published(REPORTS / "matrix.json"))
    return render_page(matrix, details, uses_document(matrix)).encode()


def test_the_page_of_the_published_pairs_grown_by_the_families_and_decompose_is_under_400_kb(grown_page: bytes) -> None:
    assert grown_page.count(b'class="pair"') == len(load_published(REPORTS / "matrix.json")[0]["cells"])
    assert len(grown_page) < MAX_BYTES, f"index.html would be {len(grown_page):,} bytes"


def test_the_published_page_shows_no_markdown(published_page: bytes) -> None:
    reader = Text()
    reader.feed(published_page.decode())
    text = "\n".join(reader.parts)
    assert "`" not in text and "**" not in text and "](" not in text


def test_the_published_page_carries_no_terminal_escape(published_page: bytes) -> None:
    assert b"\x1b" not in published_page
