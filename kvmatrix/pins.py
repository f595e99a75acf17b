"""Read and validate `pins.toml`, the list of pinned (transformers, torch) cells of the matrix."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

SCHEMA_VERSION = 1
TOP_LEVEL_KEYS = ("schema_version", "python", "cell")
CELL_FIELDS = ("transformers", "torch", "note", "tags")
_PYTHON = re.compile(r"\d+\.\d+")


class PinsError(ValueError):
    """The pins file is missing, unreadable or breaks the pins format; the message names the file."""


@dataclass(frozen=True)
class Cell:
    """One pinned (transformers, torch) pair of the matrix."""

    transformers: str
    torch: str
    note: str = ""
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The cell id used in session names and `matrix.json`, e.g. `tf4.57.6-torch2.13.0`."""
        return f"tf{self.transformers}-torch{self.torch}"

    def to_json(self) -> dict[str, Any]:
        """The cell's identity as in `matrix.json`: `id`, `pins`, `note`, `tags`."""
        return {
            "id": self.id,
            "pins": {"transformers": self.transformers, "torch": self.torch},
            "note": self.note,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Pins:
    """The validated content of a pins file."""

    python: str
    cells: tuple[Cell, ...]
    path: str

    def select(self, names: Iterable[str]) -> tuple[Cell, ...]:
        """The cells whose id is in `names`, in pins order; an unknown id raises PinsError."""
        wanted = set(names)
        unknown = sorted(wanted - {cell.id for cell in self.cells})
        if unknown:
            known = ", ".join(cell.id for cell in self.cells)
            raise PinsError(f"{self.path}: no cell with id {', '.join(unknown)}; known ids: {known}")
        return tuple(cell for cell in self.cells if cell.id in wanted)

    def tagged(self, tag: str) -> tuple[Cell, ...]:
        """The cells carrying `tag`, in pins order (empty when no cell has it)."""
        return tuple(cell for cell in self.cells if tag in cell.tags)


def load_pins(path: str | Path) -> Pins:
    """Read and validate a pins file; any problem raises one PinsError naming the file and the problem."""
    path = Path(path)
    data = _read_toml(path)
    version = data.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        found = "missing" if version is None else f"{version!r}"
        raise PinsError(f"{path}: schema_version must be {SCHEMA_VERSION}, found {found}")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            allowed = ", ".join(TOP_LEVEL_KEYS)
            raise PinsError(f"{path}: unknown top-level key {key!r}; allowed keys: {allowed}")
    python = data.get("python")
    if not isinstance(python, str) or not _PYTHON.fullmatch(python):
        raise PinsError(f'{path}: python must be a "major.minor" string like "3.11", found {python!r}')
    tables = data.get("cell", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise PinsError(f"{path}: 'cell' must be an array of tables written as [[cell]]")
    if not tables:
        raise PinsError(f"{path}: no cells; add at least one [[cell]] table")
    cells: list[Cell] = []
    seen: dict[str, int] = {}  # versions are canonical, so equal pairs have equal ids
    for number, table in enumerate(tables, start=1):
        cell = _parse_cell(table, f"{path}: cell #{number}")
        if cell.id in seen:
            raise PinsError(f"{path}: cell #{number} ({cell.id}) duplicates cell #{seen[cell.id]}")
        seen[cell.id] = number
        cells.append(cell)
    return Pins(python=python, cells=tuple(cells), path=str(path))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PinsError(f"{path}: pins file not found") from None
    except OSError as exc:
        raise PinsError(f"{path}: cannot read pins file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PinsError(f"{path}: pins file is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise PinsError(f"{path}: invalid TOML: {exc}") from None


def _parse_cell(table: dict[str, Any], where: str) -> Cell:
    transformers, torch = table.get("transformers"), table.get("torch")
    problems = {field: _version_problem(table[field]) for field in ("transformers", "torch")
                if field in table}
    if len(problems) == 2 and not any(problems.values()):
        where = f"{where} (tf{transformers}-torch{torch})"
    for field in table:
        if field not in CELL_FIELDS:
            raise PinsError(f"{where}: unknown field {field!r}; allowed fields: {', '.join(CELL_FIELDS)}")
    for field in ("transformers", "torch"):
        if field not in table:
            raise PinsError(f"{where}: missing required field {field!r}")
        if problems[field]:
            raise PinsError(f"{where}: {field} {problems[field]}")
    note = table.get("note", "")
    if not isinstance(note, str):
        raise PinsError(f"{where}: note must be a string, found {note!r}")
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        raise PinsError(f"{where}: tags must be a list of non-empty strings, found {tags!r}")
    return Cell(transformers=transformers, torch=torch, note=note, tags=tuple(tags))


def _version_problem(value: Any) -> str | None:
    """Why `value` is not an exact, final, public PEP 440 version in canonical form; None if it is."""
    if not isinstance(value, str):
        return f'must be a version string like "2.5.1", found {value!r}'
    try:
        version = Version(value)
    except InvalidVersion:
        return (
            f"{value!r} is not an exact PEP 440 version "
            '(no specifiers like ">=2.5", no wildcards like "2.*"; write e.g. "2.5.1")'
        )
    if version.local is not None:
        return (
            f"{value!r} has a local version label '+{version.local}'; "
            f"pin the public version {version.public!r} (the package index picks the build)"
        )
    if version.is_prerelease:
        return f"{value!r} is a pre-release or dev release; pin a final release"
    if str(version) != value:
        return f"{value!r} is not in canonical form; write {str(version)!r}"
    return None
