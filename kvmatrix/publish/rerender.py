"""Bring a published folder up to today's host code without running a cell: re-derive its causes
(kvmatrix.record.rederive) and re-render every file rendered from its records (uses.json and the pictures,
matrix.md, index.html, the badges; README.md's table for the repository's own reports/), as a publish renders
them. A re-rendering is not a run: `generated_at`, `changes` and history.jsonl stay as they are.

`python -m kvmatrix.publish.rerender REPORTS...` lists what re-derivation would move in each folder; with
`--write` it rewrites each folder, under its publish lock, switched as one set (kvmatrix.publish.report_set).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.files import json_text
from kvmatrix.publish.publish_run import rendered_files, switch_changed
from kvmatrix.publish.report_set import recover, reports_lock
from kvmatrix.record.detail import DETAIL_FOLDER
from kvmatrix.record.matrix import matrix_text
from kvmatrix.record.rederive import Move, describe, rederive_published
from kvmatrix.render.text import terminal_text


def rerender(reports: Path, readme: Path | None = None) -> dict[str, list[Move]]:
    """Re-derive and re-render the published folder `reports` in place (README `readme`'s table too, where
    given); returns the causes that moved by cell id. Only the files that now read differently are written."""
    with reports_lock(reports):
        recover(reports)
        matrix, details, moves = rederive_published(reports)
        texts = {
            **({reports / "matrix.json": matrix_text(matrix)} if moves else {}),
            **{reports / DETAIL_FOLDER / f"{cell_id}.json": json_text(details[cell_id]) for cell_id in moves},
            **rendered_files(matrix, details, reports, readme),
        }
        switch_changed(reports, texts)
    return moves


def main(argv: list[str] | None = None) -> int:
    """`REPORTS... [--write]`: list the causes re-derivation moves in each published folder; with `--write`,
    re-derive and re-render each folder (`rerender`)."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.publish.rerender", description=main.__doc__)
    parser.add_argument("reports", nargs="+", type=Path, help="published folders, e.g. reports/latest reports/full")
    parser.add_argument("--write", action="store_true", help="rewrite the folders (default: only list)")
    args = parser.parse_args(argv)
    for reports in args.reports:
        readme = REPO_ROOT / "README.md" if reports.resolve() == (REPO_ROOT / "reports").resolve() else None
        moves = rerender(reports, readme) if args.write else rederive_published(reports)[2]
        print(f"{reports}: {sum(map(len, moves.values()))} cause(s) {'moved' if args.write else 'would move'}")
        for cell_id, moved in moves.items():
            print(terminal_text("\n".join(describe(cell_id, move) for move in moved)))  # test names: third-party
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
