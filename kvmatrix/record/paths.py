"""Published text carries no absolute path of the machine that ran it: log tails, errors, reasons and
cause details are rewritten to paths relative to the environment (`site-packages/torch/...`,
`lib/python3.11/...`) or to the repository (`suites/test_export.py`), and any other absolute path keeps
only its last component (`…/program.pt2`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT

_START = r"(?:(?<=file://)|(?<![\w.~/+-]))/"
"""Where an absolute path starts: a `/` that does not continue a word, a relative path or a URL's host."""
_SEGMENT = r"[^\s/\"'`(),:;<>\[\]{}|]+"
_PREFIX = rf"{_START}(?:{_SEGMENT}/)*?"
CHECKOUT_FOLDERS = ("suites", "compat", "tests", "kvmatrix", ".nox")
"""Top-level folders of the repository: a path into one of them is shown relative to the checkout."""

_RULES = (
    (re.compile(rf"{_PREFIX}((?:site|dist)-packages)/"), r"\1/"),
    (re.compile(rf"{_PREFIX}(lib/python\d+\.\d+)/"), r"\1/"),
    (re.compile(rf"{_PREFIX}(?=(?:{'|'.join(map(re.escape, CHECKOUT_FOLDERS))})/)"), ""),
    (re.compile(rf"{_START}(?:{_SEGMENT}/)+({_SEGMENT})"), r"…/\1"),
)
"""In order: an installed package, the standard library, the checkout, anything else."""


def relative_paths(text: str) -> str:
    """`text` with every absolute path rewritten (see the module docstring); idempotent."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def short_path(path: str) -> str:
    """Where the file at `path` is, as a record says it: from its package on for installed code
    (`torch/export/_trace.py`), `relative_paths` otherwise (`suites/test_x.py`, `lib/python3.11/...`)."""
    return relative_paths(path).removeprefix("site-packages/")


def relative_paths_in(value: Any) -> Any:
    """A copy of the JSON value `value` with `relative_paths` applied to every string in it (not to keys)."""
    if isinstance(value, str):
        return relative_paths(value)
    if isinstance(value, list):
        return [relative_paths_in(item) for item in value]
    if isinstance(value, dict):
        return {key: relative_paths_in(item) for key, item in value.items()}
    return value


def pins_file_name(path: str, root: Path = REPO_ROOT) -> str:
    """How a pins file is named in published files: as given when relative (nox runs from the checkout),
    relative to the checkout `root` when an absolute path lies in it, else `…/<its name>`."""
    given = Path(path)
    if not given.is_absolute():
        return path
    if given.is_relative_to(root):
        return str(given.relative_to(root))
    return f"…/{given.name}"
