"""The verified pins bundled with the library (`compat/verified.json`, schema `kvcc-verified/1`): each
published pair's answer per use (kvmatrix.record.uses), read by `kvcc check` offline.

`python -m kvmatrix.render.verified [reports/matrix.json] [compat/verified.json]` writes it; `nox -s publish`
runs it after every publish of the default matrix, and a host test keeps the committed file in step with
the committed matrix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.files import json_text, write_text_atomic
from kvmatrix.record.matrix import ReportError, load_matrix
from kvmatrix.record.uses import USES, answer

FORMAT = "kvcc-verified/1"
BUNDLED = REPO_ROOT / "compat" / "verified.json"


def verified(matrix: dict[str, Any]) -> dict[str, Any]:
    """The bundled summary of `matrix`: its uses (key, title) and per cell its pins, status and answers."""
    return {
        "format": FORMAT,
        "generated_at": matrix["generated_at"],
        "pins_file": matrix["pins_file"],
        "uses": [{"key": use.key, "title": use.title} for use in USES],
        "cells": [{"id": cell["id"], "transformers": cell["pins"]["transformers"], "torch": cell["pins"]["torch"],
                   "status": cell["status"],
                   "answers": {use.key: _answer_json(use, cell) for use in USES}} for cell in matrix["cells"]],
    }


def _answer_json(use: Any, cell: dict[str, Any]) -> dict[str, str]:
    found = answer(use, cell)
    return {"answer": found.answer, **({"cause": found.cause} if found.cause else {}),
            **({"upstream": found.upstream} if found.upstream else {})}


def main(argv: list[str] | None = None) -> int:
    """Write the bundled verified pins from a published matrix; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.render.verified", description=__doc__.splitlines()[0])
    parser.add_argument("matrix", nargs="?", type=Path, default=REPO_ROOT / "reports" / "matrix.json")
    parser.add_argument("out", nargs="?", type=Path, default=BUNDLED)
    args = parser.parse_args(argv)
    try:
        write_text_atomic(args.out, json_text(verified(load_matrix(args.matrix))))
    except ReportError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
