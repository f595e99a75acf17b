"""Read `reports/history.jsonl` for the next publish, dropping the lines that are not a JSON object.

A publish cut short (killed, a full disk) can leave the last line truncated; kept, it would stay in the
history forever, unread by anything. Each such line is reported on stderr, naming the file and the line,
and left out of the history the publish writes back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def read_history(path: Path) -> str:
    """The history file `path` as text ("" when it does not exist), one JSON object per line, without the
    lines that are not one; a warning on stderr names the file and line of each line left out."""
    if not path.exists():
        return ""
    kept = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        if _is_json_object(line):
            kept.append(line.decode("utf-8"))
        else:
            print(f"warning: {path}: line {number} is not a JSON object (a publish cut short?); "
                  "dropped from the history", file=sys.stderr)
    return "".join(f"{line}\n" for line in kept)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
