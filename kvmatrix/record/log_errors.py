"""Why a pytest run reported no test, read from its log: what the record says instead of "see the log".

Two kinds of line explain it. An environment notice says the installed set cannot run the suites at all
(transformers disabling PyTorch because the cell's torch is older than it supports, then failing with an
unrelated NameError at the first model class); it is the reason when present. Otherwise the first exception
line of the log is, the root of a chained traceback coming first in Python's output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ENVIRONMENT_NOTICES = (
    # transformers >= 5.x on a torch it no longer supports: "[transformers] Disabling PyTorch because
    # PyTorch >= 2.6 is required but found 2.5.1"; every model class then fails to import.
    re.compile(r"^\[transformers\] (Disabling PyTorch because .*)$"),
)
"""Log lines that say the cell's installed set cannot run the suites; group 1 is the reason."""

_ERROR_LINE = re.compile(r"^(?:INTERNALERROR> )?E?\s*((?:[\w.]+\.)?\w+(?:Error|Exception)\b:.*)$")
REASON_LENGTH = 300


def first_error(lines: Iterable[str]) -> str | None:
    """The reason a run's log gives for reporting no test: its first environment notice, else its first
    exception line (`ImportError: ...`), cut to REASON_LENGTH characters; None when it has neither."""
    errors: list[str] = []
    for line in lines:
        for notice in ENVIRONMENT_NOTICES:
            if found := notice.match(line.strip()):
                return found.group(1)[:REASON_LENGTH]
        found = _ERROR_LINE.match(line)
        if found and not found.group(1).endswith("Traceback (most recent call last):"):
            errors.append(found.group(1).strip())
    return errors[0][:REASON_LENGTH] if errors else None
