"""The page of the published default matrix (reports/), rendered as publish renders it: small enough to open
anywhere, and no Markdown left in its text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kvmatrix.record.matrix import load_published
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


def test_the_published_page_shows_no_markdown(published_page: bytes) -> None:
    reader = Text()
    reader.feed(published_page.decode())
    text = "\n".join(reader.parts)
    assert "`" not in text and "**" not in text and "](" not in text


def test_the_published_page_carries_no_terminal_escape(published_page: bytes) -> None:
    assert b"\x1b" not in published_page
