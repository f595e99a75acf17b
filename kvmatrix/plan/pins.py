"""Read and validate `pins.toml`, the list of pinned (transformers, torch) cells of the matrix.

A pins file names exact versions, or selectors (`"latest"`, `{ newest_patch_of_each_minor = "..." }`)
that `resolve` turns into exact versions from the package index at run time; `load_pins` itself never
touches the network.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

SCHEMA_VERSION = 1
TOP_LEVEL_KEYS = ("schema_version", "python", "snapshot", "cell")
PACKAGES = ("transformers", "torch")
CELL_FIELDS = (*PACKAGES, "python", "note", "tags", "prereleases")
LATEST = "latest"
NEWEST_PATCH_OF_EACH_MINOR = "newest_patch_of_each_minor"
_PYTHON = re.compile(r"\d+\.\d+")
PYTHON_MINORS = range(10, 17)
"""The CPython 3 minors a pins file may name: from 3.10 (the project's requires-python) to the newest one
uv can install (3.16 when this was written; raise the bound when a new CPython ships)."""

ReleasesFn = Callable[[str, bool], Sequence[Version]]
"""`(package, prereleases) -> its installable released versions`, e.g. `kvmatrix.plan.releases.list_releases`."""


MAX_VERSION_LENGTH = 64
"""Longer than any real release; a cell id names files (`<cell id>.json`, its work folder), which a file system
limits to 255 bytes."""
CELL_ID = re.compile(r"tf(?P<transformers>[^-]+)-torch(?P<torch>[^-]+)")
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How every time is written (snapshots, records, reports): RFC 3339 in UTC to the second, `...T02:30:00Z`."""


class PinsError(ValueError):
    """The pins file is missing, unreadable or breaks the pins format; the message names the file."""


@dataclass(frozen=True)
class Cell:
    """One pinned (transformers, torch) pair of the matrix."""

    transformers: str
    torch: str
    note: str = ""
    tags: tuple[str, ...] = ()
    requested: tuple[tuple[str, str], ...] = ()
    """(package, selector) for each version that `resolve` chose, e.g. `(("transformers", "latest"),)`."""
    python: str | None = None
    """The cell's own CPython minor ("3.10"); None runs it on the pins file's `python`."""
    snapshot: str | None = None
    """The package index as of which every install and resolution of the cell is made (its pins file's
    `snapshot`, UTC_FORMAT; uv's `--exclude-newer`); None: the index as it is. Not part of the id."""

    @property
    def id(self) -> str:
        """The cell id used in session names and `matrix.json`, e.g. `tf4.57.6-torch2.13.0`."""
        return f"tf{self.transformers}-torch{self.torch}"

    @classmethod
    def from_id(cls, cell_id: str) -> Cell:
        """The exact pair a cell id names (`tf4.57.6-torch2.13.0`); PinsError when it names no valid versions
        or spells one as no cell id does (`v4.57.6`, `2.13.0+cu999`, `2.8` for 2.8.0): such an id is no
        cell's and would miss the cell's own settings. A pre-release is a cell id where a selector opted in
        (pins-latest.toml's `prereleases`)."""
        found = CELL_ID.fullmatch(cell_id)
        if found is None:
            raise PinsError(f"{cell_id!r} is not a cell id like tf4.57.6-torch2.13.0")
        for package, version in zip(PACKAGES, found.groups(), strict=True):
            problem = _version_problem(version, prerelease=True)
            if problem:
                raise PinsError(f"{cell_id!r}: {package} {problem}")
        return cls(transformers=found["transformers"], torch=found["torch"])

    def to_json(self) -> dict[str, Any]:
        """The cell's identity as in `matrix.json`: `id`, `pins` (with `requested` when a selector chose a
        version), `note`, `tags`."""
        pins: dict[str, Any] = {"transformers": self.transformers, "torch": self.torch}
        if self.requested:
            pins["requested"] = dict(self.requested)
        if self.python is not None:
            pins["python"] = self.python
        return {"id": self.id, "pins": pins, "note": self.note, "tags": list(self.tags)}


@dataclass(frozen=True)
class Selector:
    """A version to be chosen from the package index at run time instead of pinned in the file."""

    kind: str  # LATEST | NEWEST_PATCH_OF_EACH_MINOR
    specifier: str = ""  # the range of NEWEST_PATCH_OF_EACH_MINOR, e.g. ">=4.54,<4.58"
    prereleases: bool = False

    def __str__(self) -> str:
        """`latest`, `newest_patch_of_each_minor(>=4.54,<4.58)`, with `+prereleases` when opted in."""
        text = self.kind if self.kind == LATEST else f"{self.kind}({self.specifier})"
        return f"{text}+prereleases" if self.prereleases else text

    def pick(self, versions: Sequence[Version]) -> list[Version]:
        """The versions this selector chooses among `versions` (already filtered for pre-releases),
        ascending: the newest one, or the newest in the range for each (major, minor)."""
        if self.kind == LATEST:
            return [max(versions)] if versions else []
        in_range = SpecifierSet(self.specifier).filter(versions, prereleases=self.prereleases)
        newest: dict[tuple[int, int], Version] = {}
        for version in in_range:
            minor = (version.major, version.minor)
            newest[minor] = max(version, newest.get(minor, version))
        return sorted(newest.values())


@dataclass(frozen=True)
class PendingCell:
    """A [[cell]] with at least one selector, waiting for `resolve`; `position` is its index among the
    file's cells."""

    position: int
    transformers: str | Selector
    torch: str | Selector
    note: str = ""
    tags: tuple[str, ...] = ()
    python: str | None = None
    snapshot: str | None = None


@dataclass(frozen=True)
class Pins:
    """The validated content of a pins file: its exact cells, and the cells that still need `resolve`."""

    python: str
    cells: tuple[Cell, ...]
    path: str
    pending: tuple[PendingCell, ...] = ()
    snapshot: str | None = None
    """The file's index snapshot (UTC_FORMAT), which each of its cells carries; None: the index as it is."""

    def select(self, names: Iterable[str]) -> tuple[Cell, ...]:
        """The cells whose id is in `names`, in pins order; an unknown id raises PinsError."""
        wanted = set(names)
        unknown = sorted(wanted - {cell.id for cell in self.cells})
        if unknown:
            known = ", ".join(cell.id for cell in self.cells)
            raise PinsError(f"{self.path}: no cell with id {', '.join(unknown)}; known ids: {known}")
        return tuple(cell for cell in self.cells if cell.id in wanted)

    def pinned(self, pair: Cell) -> Cell:
        """The pair `pair` (Cell.from_id) as this file has it: the one cell it lists with those versions, else
        the pair as of the file's snapshot on its Python; PinsError for an id that spells a listed cell's
        versions otherwise (`tf4.56.2-torch2.8` for tf4.56.2-torch2.8.0): it would miss that cell's Python."""
        versions = (Version(pair.transformers), Version(pair.torch))
        same = [c for c in self.cells if (Version(c.transformers), Version(c.torch)) == versions]
        if same and same[0].id != pair.id:
            raise PinsError(f"{pair.id!r} is not a cell id of {self.path}: write {same[0].id}")
        return same[0] if same else replace(pair, snapshot=self.snapshot)

    def python_for(self, cell: Cell) -> str:
        """The CPython minor `cell` runs on: its own `python`, else the file's."""
        return cell.python or self.python

    def tagged(self, tag: str) -> tuple[Cell, ...]:
        """The cells carrying `tag`, in pins order (empty when no cell has it)."""
        return tuple(cell for cell in self.cells if tag in cell.tags)


def load_pins(path: str | Path) -> Pins:
    """Read and validate a pins file; any problem raises one PinsError naming the file and the problem.

    Cells with selectors come back in `pending` (no network is touched); `resolve` makes them concrete.
    """
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
    _check_python(python, str(path))
    snapshot = check_snapshot(data.get("snapshot"), path)
    tables = data.get("cell", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise PinsError(f"{path}: 'cell' must be an array of tables written as [[cell]]")
    if not tables:
        raise PinsError(f"{path}: no cells; add at least one [[cell]] table")
    cells: list[Cell] = []
    pending: list[PendingCell] = []
    seen: dict[str, int] = {}  # versions are canonical, so equal pairs have equal ids
    for number, table in enumerate(tables, start=1):
        cell = _parse_cell(table, f"{path}: cell #{number}", position=number - 1)
        cell = replace(cell, snapshot=snapshot)
        if isinstance(cell, PendingCell):
            pending.append(cell)
            continue
        if cell.id in seen:
            raise PinsError(f"{path}: cell #{number} ({cell.id}) duplicates cell #{seen[cell.id]}")
        seen[cell.id] = number
        cells.append(cell)
    return Pins(python=python, cells=tuple(cells), path=str(path), pending=tuple(pending), snapshot=snapshot)


def snapshot_problem(value: Any, now: datetime | None = None) -> str | None:
    """Why `value` is not an index snapshot: a UTC_FORMAT string (UTC, to the second) not later than
    `now` (default: the current time; a snapshot in the future would let the index move until then)."""
    if not isinstance(value, str):
        return f'must be a UTC time like "2026-12-07T02:30:00Z", found {value!r}'
    try:
        when = parse_utc(value)
        if when.strftime(UTC_FORMAT) != value:  # another RFC 3339 spelling, an offset, fractions of a second
            raise ValueError(value)
    except ValueError:
        return f'{value!r} is not a UTC time written like "2026-12-07T02:30:00Z"'
    if when > (now or datetime.now(UTC)):
        return f"{value!r} is in the future: the index would go on moving until then"
    return None


def check_snapshot(value: Any, where: str | Path) -> str | None:
    """`value`, the index snapshot the file `where` names, or None; PinsError naming `where` for a bad one."""
    problem = None if value is None else snapshot_problem(value)
    if problem:
        raise PinsError(f"{where}: snapshot {problem}")
    return value


def utc_now() -> str:
    """The current time as UTC_FORMAT writes it."""
    return datetime.now(UTC).strftime(UTC_FORMAT)


def parse_utc(text: str) -> datetime:
    """The time an RFC 3339 text with `Z` or an offset gives (UTC_FORMAT's, an index's upload times)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_of(pins: Pins, snapshot: str) -> Pins:
    """`pins` with `snapshot` as its index snapshot and each of its cells' (pending ones too)."""
    return replace(pins, snapshot=snapshot, cells=tuple(replace(cell, snapshot=snapshot) for cell in pins.cells),
                   pending=tuple(replace(cell, snapshot=snapshot) for cell in pins.pending))


def fixed(pins: Pins) -> Pins:
    """`pins` as of its own snapshot, or, for a file that names none (pins-latest.toml: it exists to see new
    releases), as of now: every install and resolution of one run is then made against the same index."""
    return pins if pins.snapshot is not None else as_of(pins, utc_now())


def resolve(pins: Pins, releases: ReleasesFn) -> Pins:
    """`pins` with every pending cell turned into concrete cells, in file order.

    `releases(package, prereleases)` lists a package's installable versions (network errors propagate
    from it). A `latest` selector gives one version; `newest_patch_of_each_minor` one per minor in its
    range, so a cell may expand into several (the product when both packages have selectors). Each
    resolved cell records its selectors in `requested`. Cells that end up with the same pair run once, as
    the first of them in the file; a selector that matches no release raises PinsError.
    """
    if not pins.pending:
        return pins
    listed: dict[tuple[str, bool], Sequence[Version]] = {}

    def versions_of(package: str, pin: str | Selector, position: int) -> list[str]:
        if isinstance(pin, str):
            return [pin]
        key = (package, pin.prereleases)
        if key not in listed:
            listed[key] = sorted(releases(package, pin.prereleases))
        chosen = pin.pick(listed[key])
        if not chosen:
            raise PinsError(f"{pins.path}: cell #{position + 1}: {package} = {pin} matches no release "
                            "in the package index")
        return [str(version) for version in chosen]

    pending = {cell.position: cell for cell in pins.pending}
    exact = iter(pins.cells)
    cells: dict[str, Cell] = {}
    for position in range(len(pins.cells) + len(pins.pending)):
        if position not in pending:
            cell = next(exact)
            cells.setdefault(cell.id, cell)
            continue
        spec = pending[position]
        requested = tuple((package, str(pin)) for package in PACKAGES
                          if isinstance(pin := getattr(spec, package), Selector))
        for transformers in versions_of("transformers", spec.transformers, position):
            for torch in versions_of("torch", spec.torch, position):
                cell = Cell(transformers, torch, spec.note, spec.tags, requested, spec.python, spec.snapshot)
                cells.setdefault(cell.id, cell)
    return replace(pins, cells=tuple(cells.values()), pending=())


MAX_PINS_BYTES = 1_000_000
"""Far above any real pins file (the full grid's is a few KB): a larger one is not read into memory."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file():  # a folder, a FIFO (reading it would wait for a writer), a device
            raise PinsError(f"{path}: pins file not found" if not path.exists() else
                            f"{path}: the pins file is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_PINS_BYTES + 1)
    except FileNotFoundError:
        raise PinsError(f"{path}: pins file not found") from None
    except OSError as exc:
        raise PinsError(f"{path}: cannot read pins file: {exc.strerror or exc}") from None
    if len(raw) > MAX_PINS_BYTES:
        raise PinsError(f"{path}: the pins file is larger than {MAX_PINS_BYTES} bytes")
    if raw.startswith(codecs.BOM_UTF8):
        raise PinsError(f"{path}: pins file starts with a UTF-8 byte order mark (BOM), which TOML does not "
                        "allow; save it as UTF-8 without BOM")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PinsError(f"{path}: pins file is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise PinsError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise PinsError(f"{path}: invalid TOML: values nested too deeply to read") from None


def _check_python(python: Any, where: str) -> None:
    """Refuse, naming `where`, a `python` that is not a CPython 3 minor uv can install ("3.10" .. )."""
    if not isinstance(python, str) or not _PYTHON.fullmatch(python):
        raise PinsError(f'{where}: python must be a "major.minor" string like "3.11", found {python!r}')
    if python not in {f"3.{minor}" for minor in PYTHON_MINORS}:
        raise PinsError(f"{where}: python {python!r} is not a CPython version one can install: write "
                        f'"3.<minor>" from "3.{PYTHON_MINORS[0]}" to "3.{PYTHON_MINORS[-1]}", like "3.11"')


def _parse_cell(table: dict[str, Any], where: str, position: int) -> Cell | PendingCell:
    transformers, torch = table.get("transformers"), table.get("torch")
    problems = {field: _pin_problem(table[field]) for field in PACKAGES if field in table}
    if all(field in table and _version_problem(table[field]) is None for field in PACKAGES):
        where = f"{where} (tf{transformers}-torch{torch})"
    for field in table:
        if field not in CELL_FIELDS:
            raise PinsError(f"{where}: unknown field {field!r}; allowed fields: {', '.join(CELL_FIELDS)}")
    for field in PACKAGES:
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
    python = table.get("python")
    if python is not None:
        _check_python(python, where)
    prereleases = table.get("prereleases", False)
    if not isinstance(prereleases, bool):
        raise PinsError(f"{where}: prereleases must be true or false, found {prereleases!r}")
    pins = {field: _selector(table[field], prereleases) for field in PACKAGES}
    if all(isinstance(pin, str) for pin in pins.values()):
        if prereleases:
            raise PinsError(f"{where}: prereleases = true needs a selector (\"latest\" or a range); "
                            "exact versions are always final releases")
        return Cell(transformers=transformers, torch=torch, note=note, tags=tuple(tags), python=python)
    return PendingCell(position, pins["transformers"], pins["torch"], note, tuple(tags), python)


def _selector(value: str | dict[str, str], prereleases: bool) -> str | Selector:
    """The pin as written (an exact version) or the Selector it spells; `value` is already validated."""
    if value == LATEST:
        return Selector(LATEST, prereleases=prereleases)
    if isinstance(value, dict):
        return Selector(NEWEST_PATCH_OF_EACH_MINOR, value[NEWEST_PATCH_OF_EACH_MINOR].strip(), prereleases)
    return value


def _pin_problem(value: Any) -> str | None:
    """Why `value` is neither an exact version nor a selector; None if it is one."""
    if value == LATEST:
        return None
    if isinstance(value, dict):
        return _range_problem(value)
    return _version_problem(value)


def _range_problem(table: dict[str, Any]) -> str | None:
    """Why `table` is not `{ newest_patch_of_each_minor = "<specifiers>" }`; None if it is."""
    if list(table) != [NEWEST_PATCH_OF_EACH_MINOR]:
        return (f"selector table must have exactly one key, {NEWEST_PATCH_OF_EACH_MINOR!r}, "
                f"found {', '.join(map(repr, table)) or 'none'}")
    specifier = table[NEWEST_PATCH_OF_EACH_MINOR]
    if not isinstance(specifier, str) or not specifier.strip():
        return (f'{NEWEST_PATCH_OF_EACH_MINOR} must be a non-empty version range like ">=4.54,<4.58", '
                f"found {specifier!r}")
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier:
        return f'{NEWEST_PATCH_OF_EACH_MINOR} {specifier!r} is not a PEP 440 range like ">=4.54,<4.58"'
    return None


def _version_problem(value: Any, prerelease: bool = False) -> str | None:
    """Why `value` is not an exact, final (a pre-release too with `prerelease`), public PEP 440 version in
    canonical form; None if it is."""
    if not isinstance(value, str):
        return f'must be a version string like "2.5.1", found {value!r}'
    if len(value) > MAX_VERSION_LENGTH:
        return f"{value[:20]!r}... is longer than {MAX_VERSION_LENGTH} characters"
    try:
        version = Version(value)
    except InvalidVersion:
        return (
            f"{value!r} is not an exact PEP 440 version "
            '(no specifiers like ">=2.5", no wildcards like "2.*"; write e.g. "2.5.1", or a selector: '
            '"latest" or { newest_patch_of_each_minor = ">=2.5,<2.8" })'
        )
    if version.local is not None:
        return (
            f"{value!r} has a local version label '+{version.local}'; "
            f"pin the public version {version.public!r} (the package index picks the build)"
        )
    if version.is_prerelease and not prerelease:
        return f"{value!r} is a pre-release or dev release; pin a final release"
    if str(version) != value:
        return f"{value!r} is not in canonical form; write {str(version)!r}"
    return None
