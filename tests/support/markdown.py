"""What the tests of rendered Markdown share."""

from __future__ import annotations

import re


def section(markdown: str, title: str) -> str:
    """The body of the `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match.group(1)
