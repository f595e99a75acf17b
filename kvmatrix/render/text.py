"""Values made safe for the Markdown the reports are written in (matrix.md, the README table)."""

from __future__ import annotations

import re
from typing import Any

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|!~#])")
HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_text(value: Any) -> str:
    """`value` as plain text on one line of Markdown, whatever it holds: whitespace runs (newlines too)
    become one space, `&`, `<` and `>` become HTML entities (no tag, comment or README marker survives),
    and Markdown punctuation (pipes, backticks, brackets, emphasis, `!`) is backslash-escaped, so the
    value can neither end a table cell nor start a link, an image or a code span."""
    text = " ".join(str(value).split())
    text = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return "".join(HTML_SPECIAL.get(char, char) for char in text)
