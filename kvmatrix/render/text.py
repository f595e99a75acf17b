"""Values made safe for the Markdown the reports are written in (matrix.md, the README table), and for the
terminal a publish prints to."""

from __future__ import annotations

import re
from typing import Any

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|!~#])")
HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Every C0 and C1 control but newline and tab, and the bidirectional embeddings, overrides and isolates."""


def markdown_text(value: Any) -> str:
    """`value` as plain text on one line of Markdown, whatever it holds: whitespace runs (newlines too)
    become one space, `&`, `<` and `>` become HTML entities (no tag, comment or README marker survives),
    and Markdown punctuation (pipes, backticks, brackets, emphasis, `!`) is backslash-escaped, so the
    value can neither end a table cell nor start a link, an image or a code span."""
    text = " ".join(str(value).split())
    text = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return "".join(HTML_SPECIAL.get(char, char) for char in text)


def terminal_text(value: Any) -> str:
    """`value` as text that cannot drive the terminal it is printed on: each control character but newline
    and tab (ESC, which starts ANSI and OSC sequences such as a window title, a clipboard write or a screen
    clear; carriage return and backspace, which overwrite what was printed; C1 controls) and each
    bidirectional override is shown as its escape (`\\x1b`, `\\u202e`). Cell records hold third-party
    text, and a publish prints parts of them."""
    return TERMINAL_CONTROL.sub(lambda found: _escape(found.group()), str(value))


def _escape(char: str) -> str:
    """The escape that shows the control character `char`."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
