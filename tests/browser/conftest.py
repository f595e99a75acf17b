"""A real headless Chromium driven by Playwright, and a small matrix rendered to a page file.

The browser is Debian's Chromium at /usr/bin/chromium (KVCC_CHROMIUM names another build, e.g. Google
Chrome on GitHub's runners). It is required: a missing browser fails these tests, it never skips them.
Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from page_fixtures import sample_matrix
from playwright.sync_api import Browser, Page, sync_playwright

from kvmatrix.record.answers import uses_document
from kvmatrix.render.html import render_page

CHROMIUM = Path(os.environ.get("KVCC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def sample() -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh copy of the sample matrix and its cells' details (see page_fixtures)."""
    return sample_matrix()


@pytest.fixture
def matrix(sample: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return sample[0]


@pytest.fixture
def details(sample: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return sample[1]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Chromium (`apt-get install -y chromium`, "
            "which .ci/run does), or KVCC_CHROMIUM naming a Chromium/Chrome binary"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser, tmp_path: Path) -> Iterator[Callable[..., Page]]:
    """Render a matrix and its details with its uses.json (none: the answers of this matrix alone) to
    tmp_path/index.html and open it (with an optional #fragment); page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []

    def load(matrix: dict[str, Any], details: dict[str, Any], fragment: str = "",
             uses: dict[str, Any] | None = None) -> Page:
        path = tmp_path / "index.html"
        path.write_text(render_page(matrix, details, uses or uses_document(matrix)), encoding="utf-8")
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri() + fragment)
        return page

    yield load
    context.close()
    assert errors == [], f"the page raised: {errors}"
