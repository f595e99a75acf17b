"""Re-derive, on the host, the `not-cache` causes the attribution ladder gave before it compared failures
(kvmatrix.run.process.attribution; docs/attribution.md, "A probe must fail the same way").

Until then a test got `not-cache` whenever its no-cache probe failed at all. Its record keeps the probe's
failure only as text, `cause_detail` "fails without any cache too: <Type>: <message>"
(kvmatrix.record.causes.ANY_FAILURE), and neither failure's raising frame, so what the record has is compared
instead: the test's `error` (from its exception type on; a known limitation's after "; error: ") with the
probe's. Another exception type (the last part of a dotted name: records name the test's type with its
module, the probe's without), or another message (kvmatrix.record.verdicts.error_signature), makes the cause
`cache`, the probe's error kept in `cause_detail` after causes.DIFFERENTLY; the same type and message keep
`not-cache`. A record the ladder wrote since says how the probe failed, frame included (causes.SAME_WAY,
causes.DIFFERENTLY), and is never touched; so re-deriving twice changes nothing.

`python -m kvmatrix.publish.rerender REPORTS...` lists what would move in each published folder, and with
`--write` re-derives and re-renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kvmatrix.record.causes import ANY_FAILURE, CACHE, DIFFERENTLY, NOT_CACHE
from kvmatrix.record.detail import compact_table, table_key
from kvmatrix.record.matrix import load_published
from kvmatrix.record.verdicts import RECORDED_MODES, error_signature

KNOWN_LIMITATION = re.compile(r"^known limitation: .*?; error: ")
"""What a known limitation's xfail `error` says before the real error (suites.known_limitations)."""
FAILURE_TEXT = re.compile(r"^([A-Za-z_][\w.]*)(:.*| at \S+)?$")
"""`<Type>: <message>`, a bare `<Type>`, or `<Type> at <file>:<line>` (a message that was only the type's
name, kvmatrix.run.process.recorder.error_line)."""


@dataclass(frozen=True)
class Move:
    """A test record whose cause re-derivation changed, with the two errors it compared."""

    mode: str
    test: str
    old: str
    new: str
    error: str
    probe_error: str


def _type_and_message(text: str) -> tuple[str, str] | None:
    """(the exception type's last dotted part, the message's error_signature) of a one-line failure text;
    None for a text that does not start with an exception type."""
    found = FAILURE_TEXT.match(KNOWN_LIMITATION.sub("", text.strip()))
    if found is None:
        return None
    rest = found.group(2) or ""
    message = rest[1:] if rest.startswith(":") else ""
    return found.group(1).rsplit(".", 1)[-1], error_signature(message)


def same_failure(error: str, probe_error: str) -> bool | None:
    """Whether a test's `error` and its probe's error text name the same failure: the same type and message.
    The probe's text held its whole message on one line, the test's error only the first line, so a probe
    message that goes on past the test's (after a space) is the same one. None when either text does not
    start with an exception type (nothing to compare)."""
    test, probe = _type_and_message(error), _type_and_message(probe_error)
    if test is None or probe is None:
        return None
    same_message = probe[1] == test[1] or (bool(test[1]) and probe[1].startswith(f"{test[1]} "))
    return probe[0] == test[0] and same_message


def rederive_test(test: dict[str, Any]) -> str | None:
    """Re-derive one test record in place (see the module docstring); the probe's error when its cause moved
    to `cache`, else None."""
    detail = test.get("cause_detail") or ""
    if test.get("cause") != NOT_CACHE or not detail.startswith(ANY_FAILURE):
        return None
    probe_error = detail.removeprefix(ANY_FAILURE)
    if same_failure(test.get("error") or "", probe_error) is not False:
        return None
    test.update(cause=CACHE, cause_detail=f"{DIFFERENTLY}{probe_error}")
    return probe_error


def rederive_runs(runs: dict[str, Any]) -> list[Move]:
    """Re-derive every test record of a cell's `runs` in place; what moved, in RECORDED_MODES order."""
    moves = []
    for mode in RECORDED_MODES:
        for test in runs.get(mode, {}).get("tests", []):
            probe_error = rederive_test(test)
            if probe_error is not None:
                moves.append(Move(mode, table_key(test), NOT_CACHE, CACHE, test.get("error") or "", probe_error))
    return moves


def rederive_published(reports: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, list[Move]]]:
    """(matrix, details, moves by cell id) of the published folder `reports` re-derived: each cell's detail
    re-derived and its summary's compact `tests` table made again from it. Nothing is written."""
    matrix, details = load_published(reports / "matrix.json")
    moves = {}
    for cell in matrix["cells"]:
        moved = rederive_runs(details[cell["id"]].get("runs", {}))
        if moved:
            cell["tests"] = compact_table(details[cell["id"]]["runs"])
            moves[cell["id"]] = moved
    return matrix, details, moves


def describe(cell_id: str, move: Move) -> str:
    """One listing line of a move: cell, mode, test, old -> new cause, and the two errors compared."""
    return (f"{cell_id} {move.mode} {move.test}: {move.old} -> {move.new}\n"
            f"    test error:  {move.error}\n    probe error: {move.probe_error}")
