"""Resolved pins as JSON: the exact cells a pins file resolved to, written once and read back unchanged.

The CI plan job resolves pins-latest.toml from the package index (`python -m kvmatrix.plan.actions --pins
pins-latest.toml --resolved-out FILE`) and hands this file to the cell jobs (`python -m kvmatrix.run.cell_cli
--resolved FILE ID`) and to the publish job (`nox -s publish -- --resolved FILE`), so every job runs and
publishes the versions the plan chose even if the index moves on meanwhile. The shape:

    {"schema_version": 1, "pins_file": "pins-latest.toml", "python": "3.11", "snapshot": "2026-12-07T02:30:00Z",
     "cells": [{"id": "tf5.24.0-torch2.15.0", "note": "...", "tags": [],
                "pins": {"transformers": "5.24.0", "torch": "2.15.0",
                         "requested": {"transformers": "latest"}}}]}

Each cell is its identity as in matrix.json (`Cell.to_json`); `pins_file` is the pins file it came from,
which the published matrix names; `snapshot` the index snapshot every job installs as of (the pins file's, or
the time the plan resolved a file that names none: kvmatrix.plan.pins.fixed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from kvmatrix.files import write_json_atomic
from kvmatrix.plan.pins import PACKAGES, Cell, Pins, PinsError, as_of, check_snapshot

SCHEMA_VERSION = 1
KEYS = ("schema_version", "pins_file", "python", "snapshot", "cells")
_PYTHON = re.compile(r"\d+\.\d+")


def resolved_json(pins: Pins) -> dict[str, Any]:
    """The JSON form of resolved `pins`; pins that still have selectors raise ValueError (resolve them
    first: a pending cell must never be dropped on the way)."""
    if pins.pending:
        raise ValueError(f"{pins.path}: {len(pins.pending)} cell(s) still have selectors; resolve them first")
    return {"schema_version": SCHEMA_VERSION, "pins_file": pins.path, "python": pins.python,
            "snapshot": pins.snapshot, "cells": [cell.to_json() for cell in pins.cells]}


def write_resolved(pins: Pins, path: Path) -> None:
    """Write resolved `pins` to `path` (atomically, creating its folder)."""
    write_json_atomic(path, resolved_json(pins))


def load_resolved(path: str | Path) -> Pins:
    """The Pins written by `write_resolved` (their `path` is the original pins file); a missing, truncated
    or malformed file raises one PinsError naming `path`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PinsError(f"{path}: resolved pins file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PinsError(f"{path}: cannot read resolved pins file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PinsError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}); "
                        "is the file truncated?") from None
    if not isinstance(data, dict) or sorted(data) != sorted(KEYS):
        raise PinsError(f"{path}: a resolved pins file is an object with exactly the keys {', '.join(KEYS)}")
    if data["schema_version"] != SCHEMA_VERSION:
        raise PinsError(f"{path}: schema_version is {data['schema_version']!r}; this reader understands "
                        f"{SCHEMA_VERSION}")
    if not isinstance(data["pins_file"], str) or not isinstance(data["python"], str) \
            or not _PYTHON.fullmatch(data["python"]):
        raise PinsError(f"{path}: pins_file must be a string and python a \"major.minor\" string")
    check_snapshot(data["snapshot"], path)
    if not isinstance(data["cells"], list) or not data["cells"]:
        raise PinsError(f"{path}: cells must be a non-empty list")
    cells = [_cell(entry, f"{path}: cell #{number}") for number, entry in enumerate(data["cells"], start=1)]
    ids = [cell.id for cell in cells]
    duplicates = sorted({cell_id for cell_id in ids if ids.count(cell_id) > 1})
    if duplicates:
        raise PinsError(f"{path}: duplicate cell id(s) {', '.join(duplicates)}")
    pins = Pins(python=data["python"], cells=tuple(cells), path=data["pins_file"])
    return pins if data["snapshot"] is None else as_of(pins, data["snapshot"])


def _cell(entry: Any, where: str) -> Cell:
    """The Cell of one `Cell.to_json()` object; anything else raises PinsError naming `where`."""
    try:
        pins, note, tags = entry["pins"], entry["note"], entry["tags"]
        versions = [pins[package] for package in PACKAGES]
        requested = pins.get("requested", {})
        python = pins.get("python")
    except (KeyError, TypeError, AttributeError):
        raise PinsError(f"{where}: needs id, pins (transformers, torch, optional requested and python), "
                        "note and tags") from None
    for version in versions:
        if not isinstance(version, str) or not _canonical(version):
            raise PinsError(f"{where}: {version!r} is not a canonical PEP 440 version")
    if not isinstance(note, str) or not isinstance(tags, list) \
            or not all(isinstance(tag, str) for tag in tags):
        raise PinsError(f"{where}: note must be a string and tags a list of strings")
    if not isinstance(requested, dict) or not set(requested) <= set(PACKAGES) \
            or not all(isinstance(selector, str) and selector for selector in requested.values()):
        raise PinsError(f"{where}: requested must map transformers and/or torch to the selector "
                        "that chose it")
    if python is not None and (not isinstance(python, str) or not _PYTHON.fullmatch(python)):
        raise PinsError(f"{where}: python must be a \"major.minor\" string, found {python!r}")
    chosen = tuple((package, requested[package]) for package in PACKAGES if package in requested)
    cell = Cell(*versions, note=note, tags=tuple(tags), requested=chosen, python=python)
    if entry.get("id") != cell.id:
        raise PinsError(f"{where}: id {entry.get('id')!r} does not match its pins ({cell.id})")
    return cell


def _canonical(version: str) -> bool:
    """Whether `version` is a public PEP 440 version in canonical form (pre-releases allowed: a selector
    with `prereleases = true` may choose one)."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return parsed.local is None and str(parsed) == version
