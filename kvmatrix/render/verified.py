"""The verified pins bundled with the library (`compat/verified.json`, schema `kvcc-verified/2`): each
published pair's answer per use, its route and requirements, as `reports/uses.json` gives them, read by
`kvcc check` offline.

`python -m kvmatrix.render.verified [reports/uses.json] [compat/verified.json]` writes it; `nox -s publish`
runs it after every publish of the default matrix, and a host test keeps the committed file in step with
the committed answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.files import json_text, write_text_atomic
from kvmatrix.plan.pins import Cell
from kvmatrix.record.answers import FORMAT as USES_FORMAT
from kvmatrix.record.uses import WORKING
from kvmatrix.render.by_use import ANSWER_MEANINGS
from kvmatrix.render.text import terminal_text

FORMAT = "kvcc-verified/2"
BUNDLED = REPO_ROOT / "compat" / "verified.json"
ANSWER_FIELDS = ("answer", "route", "requires", "cause", "upstream")
"""What the bundle keeps of each answer (uses.json also lists every route and test)."""


class UsesError(ValueError):
    """uses.json is missing, unreadable or not `kvcc-uses/1`."""


def verified(uses: dict[str, Any]) -> dict[str, Any]:
    """The bundled summary of a uses.json document: the answers that say a use works and what each answer
    means (kvcc check prints these words), its uses (key, title), and per pair its versions and each use's
    answer with its route and requirements."""
    return {
        "format": FORMAT,
        "generated_at": uses["generated_at"],
        "working": list(WORKING),
        "meanings": ANSWER_MEANINGS,
        "uses": [{"key": use["key"], "title": use["title"]} for use in uses["uses"]],
        "cells": [{"id": pair, **_versions(pair),
                   "answers": {use["key"]: {field: use["answers"][pair][field] for field in ANSWER_FIELDS
                                            if use["answers"][pair][field] not in (None, [])}
                               for use in uses["uses"]}} for pair in uses["pairs"]],
    }


def _versions(pair: str) -> dict[str, str]:
    """{"transformers", "torch"} of a cell id (kvmatrix.plan.pins.Cell.from_id)."""
    cell = Cell.from_id(pair)
    return {"transformers": cell.transformers, "torch": cell.torch}


def load_uses(path: Path) -> dict[str, Any]:
    """A uses.json document; UsesError when it is missing, unreadable or of another format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsesError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != USES_FORMAT:
        raise UsesError(f"{path} is not a {USES_FORMAT} file")
    return data


def main(argv: list[str] | None = None) -> int:
    """Write the bundled verified pins from a published matrix; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.render.verified", description=__doc__.splitlines()[0])
    parser.add_argument("uses", nargs="?", type=Path, default=REPO_ROOT / "reports" / "uses.json")
    parser.add_argument("out", nargs="?", type=Path, default=BUNDLED)
    args = parser.parse_args(argv)
    try:
        write_text_atomic(args.out, json_text(verified(load_uses(args.uses))))
    except UsesError as exc:
        print(terminal_text(f"error: {exc}"))
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
