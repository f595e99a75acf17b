"""Moving a pins file's index snapshot: the one step that lets the default matrix see new releases of the
packages it does not pin (docs/incremental.md).

`nox -s refresh` moves pins.toml's `snapshot` to now (`move_snapshot`), says per cell which packages move
(`package_moves`, against the resolved sets the published records hold), runs only the cells whose resolved
set changed (the others keep their inputs key and are reused) and publishes; the new date stays in pins.toml
for the commit, whose message (`commit_message`) names the packages that moved. The scheduled workflow's plan
job does the same with `--plan`, and its cell jobs run what moved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kvmatrix.files import write_text_atomic
from kvmatrix.plan.pins import PinsError, check_snapshot, load_pins

_SNAPSHOT_LINE = re.compile(r'^snapshot[ \t]*=[ \t]*"[^"\n]*"[ \t]*$', re.MULTILINE)


def move_snapshot(path: Path, snapshot: str) -> str:
    """Rewrite the `snapshot = "..."` line of the pins file at `path` to `snapshot`, keeping every other byte
    (comments, order); returns the snapshot it had. PinsError for a file that names no snapshot (a pins file
    without one is always resolved as of its run: there is nothing to move), a bad `snapshot`, or a file that
    would no longer load."""
    check_snapshot(snapshot, path)
    before = load_pins(path).snapshot
    if before is None:
        raise PinsError(f"{path}: names no snapshot to move (add a top-level `snapshot = \"<UTC time>\"`)")
    text = path.read_text(encoding="utf-8")
    moved, count = _SNAPSHOT_LINE.subn(f'snapshot = "{snapshot}"', text)
    if count != 1:
        raise PinsError(f"{path}: the snapshot must be written on one line of its own, as `snapshot = \"...\"`")
    write_text_atomic(path, moved)
    load_pins(path)
    return before


def _versions(lines: Sequence[str] | str | None) -> dict[str, str]:
    """name -> version of resolved `name==version` lines (nothing for a reason or an unknown set)."""
    if not isinstance(lines, list | tuple):
        return {}
    return dict(line.split("==", 1) for line in lines if "==" in line)


def _moves(before: Sequence[str] | str | None, after: Sequence[str] | str | None, where: str) -> list[str]:
    """`name old -> new` (`new`/`gone` for one that appears or disappears) for each package of one
    environment whose version differs, sorted, each prefixed with `where` when it is a client's."""
    old, new = _versions(before), _versions(after)
    prefix = f"{where}: " if where else ""
    return [f"{prefix}{name} {old.get(name, 'new')} -> {new.get(name, 'gone')}"
            for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)]


def package_moves(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str] | None:
    """The packages whose versions differ between two cell inputs (kvmatrix.run.inputs: the cell's own
    resolved set, then each client environment's, prefixed with the client's name); None when either is
    unknown (a cell that never recorded its inputs, or whose pins no longer resolve)."""
    if not before or not after:
        return None
    old, new = before.get("parts") or {}, after.get("parts") or {}
    moves = _moves(old.get("resolved"), new.get("resolved"), "")
    old_clients, new_clients = old.get("clients") or {}, new.get("clients") or {}
    for client in sorted(old_clients.keys() | new_clients.keys()):
        moves += _moves(old_clients.get(client), new_clients.get(client), client)
    return moves


def moves_by_cell(cell_ids: Sequence[str], published: Mapping[str, Mapping[str, Any]],
                  inputs: Sequence[Mapping[str, Any] | None]) -> dict[str, list[str] | None]:
    """Cell id -> `package_moves` from its published record's inputs to `inputs` (in `cell_ids` order)."""
    return {cell_id: package_moves((published.get(cell_id) or {}).get("inputs"), found)
            for cell_id, found in zip(cell_ids, inputs, strict=True)}


def report_lines(moves: Mapping[str, list[str] | None]) -> list[str]:
    """One line per cell: the packages that move in it, that none does, or that it cannot be told."""
    lines = []
    for cell_id, moved in moves.items():
        if moved is None:
            lines.append(f"{cell_id}: cannot tell what moves (no published inputs, or its pins do not resolve); it runs")
        else:
            lines.append(f"{cell_id}: " + (", ".join(moved) if moved else "nothing moves; reused"))
    return lines


def _package(move: str) -> str:
    """The package a `_moves` line is about (`regex` of `regex 2026.11.1 -> 2026.12.2`, client prefix or not)."""
    return move.rpartition(": ")[2].split(" ")[0]


def commit_message(before: str, after: str, moves: Mapping[str, list[str] | None]) -> str:
    """The refresh commit's message: the new date and the packages that moved in its title, then each move
    with the cells it happened in, then the per-cell lines."""
    cells_of: dict[str, list[str]] = {}
    for cell_id, moved in moves.items():
        for move in moved or []:
            cells_of.setdefault(move, []).append(cell_id)
    names = sorted({_package(move) for move in cells_of})
    title = f"Refresh the index snapshot to {after}: " + (f"{', '.join(names)} moved" if names else "no package moved")
    body = [f"The default matrix resolved as of {before}; it now resolves as of {after}.", "",
            *(f"- {move} (in {', '.join(cells)})" for move, cells in sorted(cells_of.items())),
            "", *report_lines(moves)]
    return title + "\n\n" + "\n".join(body).replace("\n\n\n", "\n\n") + "\n"
