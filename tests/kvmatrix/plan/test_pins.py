"""kvmatrix.plan.pins: a valid pins file loads; every malformed one fails with one clear PinsError."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from packaging.version import Version

from kvmatrix.plan.latest import resolve_latest
from kvmatrix.plan.pins import Cell, PinsError, Selector, fixed, load_pins, resolve, snapshot_problem
from tests.support.index_server import serve_index

REPO_PINS = Path(__file__).resolve().parents[3] / "pins.toml"
HEADER = 'schema_version = 1\npython = "3.11"\n'


def cell_toml(transformers: str = '"4.57.6"', torch: str = '"2.13.0"', extra: str = "") -> str:
    return f"\n[[cell]]\ntransformers = {transformers}\ntorch = {torch}\n{extra}"


def test_valid_file_loads(pins_file: Path) -> None:
    pins = load_pins(pins_file)
    assert pins.python == "3.11"
    assert pins.path == str(pins_file)
    assert [cell.id for cell in pins.cells] == [
        "tf4.46.3-torch2.5.1", "tf4.57.6-torch2.13.0", "tf5.24.0-torch2.13.0",
    ]
    assert pins.cells[1] == Cell("4.57.6", "2.13.0", "layer-based on the newest torch", ("smoke",))
    assert pins.cells[2].note == "" and pins.cells[2].tags == ()


def test_cell_to_json() -> None:
    assert Cell("4.57.6", "2.13.0", "why", ("smoke",)).to_json() == {
        "id": "tf4.57.6-torch2.13.0",
        "pins": {"transformers": "4.57.6", "torch": "2.13.0"},
        "note": "why",
        "tags": ["smoke"],
    }


def test_select_and_tagged_keep_pins_order(pins_file: Path) -> None:
    pins = load_pins(pins_file)
    chosen = pins.select(["tf5.24.0-torch2.13.0", "tf4.46.3-torch2.5.1"])
    assert [cell.id for cell in chosen] == ["tf4.46.3-torch2.5.1", "tf5.24.0-torch2.13.0"]
    assert [cell.id for cell in pins.tagged("smoke")] == ["tf4.57.6-torch2.13.0"]
    assert pins.tagged("nightly") == ()


def test_select_unknown_id_names_it(pins_file: Path) -> None:
    with pytest.raises(PinsError, match=r"no cell with id tf9\.9\.9-torch2\.13\.0; known ids: tf4\.46\.3"):
        load_pins(pins_file).select(["tf4.57.6-torch2.13.0", "tf9.9.9-torch2.13.0"])


BAD_PINS = {
    "unknown cell field": (
        HEADER + cell_toml(extra='tag = ["smoke"]\n'),
        (
            "cell #1 (tf4.57.6-torch2.13.0): unknown field 'tag'; "
            "allowed fields: transformers, torch, python, note, tags"
        ),
    ),
    "wildcard-ish version 2.x": (
        HEADER + cell_toml(torch='"2.x"'),
        "cell #1: torch '2.x' is not an exact PEP 440 version",
    ),
    "specifier >=2.5": (
        HEADER + cell_toml(torch='">=2.5"'),
        "cell #1: torch '>=2.5' is not an exact PEP 440 version",
    ),
    "wildcard 2.*": (HEADER + cell_toml(torch='"2.*"'), "'2.*' is not an exact PEP 440 version"),
    "local version +cpu": (
        HEADER + cell_toml(torch='"2.13.0+cpu"'),
        "cell #1: torch '2.13.0+cpu' has a local version label '+cpu'; pin the public version '2.13.0'",
    ),
    "pre-release": (HEADER + cell_toml(transformers='"5.0.0rc1"'), "'5.0.0rc1' is a pre-release"),
    "non-canonical version": (HEADER + cell_toml(torch='"v2.13.0"'), "not in canonical form; write '2.13.0'"),
    "non-string version": (
        HEADER + cell_toml(torch="2.5"),
        "cell #1: torch must be a version string like \"2.5.1\", found 2.5",
    ),
    "missing torch": (
        HEADER + '\n[[cell]]\ntransformers = "4.57.6"\n',
        "cell #1: missing required field 'torch'",
    ),
    "duplicate cell": (
        HEADER + cell_toml() + cell_toml(transformers='"4.46.3"', torch='"2.5.1"') + cell_toml(),
        "cell #3 (tf4.57.6-torch2.13.0) duplicates cell #1",
    ),
    "invalid TOML": (HEADER + "\n[[cell]]\ntransformers 4.57.6\n", "invalid TOML"),
    "schema_version missing": ('python = "3.11"\n' + cell_toml(), "schema_version must be 1, found missing"),
    "schema_version 2": (
        'schema_version = 2\npython = "3.11"\n' + cell_toml(),
        "schema_version must be 1, found 2",
    ),
    "schema_version true": (
        'schema_version = true\npython = "3.11"\n' + cell_toml(),
        "schema_version must be 1, found True",
    ),
    "unknown top-level key": (
        HEADER + "\n[[cells]]\ntransformers = \"4.57.6\"\n",
        "unknown top-level key 'cells'; allowed keys: schema_version, python, snapshot, cell",
    ),
    "python not major.minor": (
        'schema_version = 1\npython = "3"\n' + cell_toml(),
        'python must be a "major.minor" string like "3.11", found \'3\'',
    ),
    **{f"python {version} is no installable CPython": (
        f'schema_version = 1\npython = "{version}"\n' + cell_toml(),
        f'python {version!r} is not a CPython version one can install: write "3.<minor>" from "3.10" to',
    ) for version in ("99.99", "3.011", "2.7", "3.9", "3.99")},
    "UTF-8 byte order mark": ("\ufeff" + HEADER + cell_toml(), "starts with a UTF-8 byte order mark (BOM)"),
    "deeply nested value": (HEADER + "x = " + "[" * 100_000 + "]" * 100_000 + "\n" + cell_toml(),
                            "invalid TOML: values nested too deeply"),
    "no cells": (HEADER, "no cells"),
    "cell not an array of tables": (HEADER + 'cell = "4.57.6"\n', "'cell' must be an array of tables"),
    "tags not a list": (HEADER + cell_toml(extra='tags = "smoke"\n'), "tags must be a list of non-empty"),
    "tags with a number": (HEADER + cell_toml(extra="tags = [1]\n"), "non-empty strings, found [1]"),
    "note not a string": (HEADER + cell_toml(extra="note = 3\n"), "note must be a string, found 3"),
    "cell python not installable": (HEADER + cell_toml(extra='python = "3.9"\n'),
                                    "cell #1 (tf4.57.6-torch2.13.0): python '3.9' is not a CPython version"),
    "cell python not a string": (HEADER + cell_toml(extra="python = 3.10\n"),
                                 'python must be a "major.minor" string like "3.11", found 3.1'),
}


@pytest.mark.parametrize(("text", "expected"), BAD_PINS.values(), ids=BAD_PINS.keys())
def test_bad_pins_give_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(text)
    with pytest.raises(PinsError) as raised:
        load_pins(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_a_pins_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(PinsError, match="absent.toml: pins file not found"):
        load_pins(path)


def test_repo_pins_load() -> None:
    pins = load_pins(REPO_PINS)
    ids = [cell.id for cell in pins.cells]
    assert len(ids) >= 8
    assert len(set(ids)) == len(ids)
    assert pins.python == "3.11"
    assert pins.tagged("smoke"), "CI needs at least one smoke cell"


SELECTOR_PINS = HEADER + """
[[cell]]
transformers = "4.53.3"
torch = "2.7.1"
note = "exact"

[[cell]]
transformers = { newest_patch_of_each_minor = ">=4.46,<4.53" }
torch = "2.13.0"
note = "one per minor"
tags = ["nightly"]

[[cell]]
transformers = "latest"
torch = "latest"
prereleases = true

[[cell]]
transformers = "4.46.3"
torch = "2.13.0"
note = "exact, but the range above already gives this pair"
"""


class Index:
    """A fixed release list per package, recording what `resolve` asked for."""

    RELEASES: ClassVar[dict[str, list[str]]] = {
        "transformers": ["4.45.2", "4.46.1", "4.46.3", "4.52.1", "4.52.4", "4.53.3", "5.0.0rc3"],
        "torch": ["2.7.1", "2.13.0", "2.15.0"],
    }

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool]] = []

    def __call__(self, package: str, prereleases: bool) -> list[Version]:
        self.asked.append((package, prereleases))
        return [Version(v) for v in self.RELEASES[package] if prereleases or not Version(v).is_prerelease]


def test_selectors_load_as_pending_cells_without_the_network(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(SELECTOR_PINS)
    pins = load_pins(path)
    assert [cell.id for cell in pins.cells] == ["tf4.53.3-torch2.7.1", "tf4.46.3-torch2.13.0"]
    assert [(p.position, p.transformers, p.torch) for p in pins.pending] == [
        (1, Selector("newest_patch_of_each_minor", ">=4.46,<4.53"), "2.13.0"),
        (2, Selector("latest", prereleases=True), Selector("latest", prereleases=True)),
    ]


def test_resolve_expands_selectors_in_file_order_and_records_what_was_requested(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(SELECTOR_PINS)
    index = Index()
    resolved = resolve(load_pins(path), index)
    assert resolved.pending == ()
    assert [cell.id for cell in resolved.cells] == [
        "tf4.53.3-torch2.7.1", "tf4.46.3-torch2.13.0", "tf4.52.4-torch2.13.0", "tf5.0.0rc3-torch2.15.0",
    ]
    per_minor = resolved.cells[1]
    assert per_minor.note == "one per minor" and per_minor.tags == ("nightly",)
    assert per_minor.to_json()["pins"] == {
        "transformers": "4.46.3", "torch": "2.13.0",
        "requested": {"transformers": "newest_patch_of_each_minor(>=4.46,<4.53)"},
    }
    assert resolved.cells[3].to_json()["pins"]["requested"] == {
        "transformers": "latest+prereleases", "torch": "latest+prereleases"}
    assert "requested" not in resolved.cells[0].to_json()["pins"]
    assert sorted(index.asked) == [("torch", True), ("transformers", False), ("transformers", True)]


def test_latest_without_prereleases_is_the_newest_final_release(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(HEADER + cell_toml(transformers='"latest"'))
    assert [cell.id for cell in resolve(load_pins(path), Index()).cells] == ["tf4.53.3-torch2.13.0"]


def test_resolve_leaves_exact_pins_alone_and_asks_the_index_nothing(pins_file: Path) -> None:
    index = Index()
    pins = load_pins(pins_file)
    assert resolve(pins, index) == pins
    assert index.asked == []


def test_a_selector_matching_no_release_is_a_pins_error(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(HEADER + cell_toml(transformers='{ newest_patch_of_each_minor = ">=9" }'))
    match = r"cell #1: transformers = newest_patch_of_each_minor\(>=9\) matches no release"
    with pytest.raises(PinsError, match=match):
        resolve(load_pins(path), Index())


BAD_SELECTORS = {
    "unknown selector key": (
        cell_toml(transformers='{ newest_patch = ">=4.54" }'),
        ("cell #1: transformers selector table must have exactly one key, 'newest_patch_of_each_minor', "
         "found 'newest_patch'"),
    ),
    "empty range": (
        cell_toml(torch='{ newest_patch_of_each_minor = "" }'),
        "cell #1: torch newest_patch_of_each_minor must be a non-empty version range",
    ),
    "invalid range": (
        cell_toml(torch='{ newest_patch_of_each_minor = "2.5+" }'),
        "cell #1: torch newest_patch_of_each_minor '2.5+' is not a PEP 440 range",
    ),
    "latest misspelt": (
        cell_toml(torch='"Latest"'), "cell #1: torch 'Latest' is not an exact PEP 440 version",
    ),
    "prereleases not a bool": (
        cell_toml(transformers='"latest"', extra='prereleases = "yes"\n'),
        "cell #1: prereleases must be true or false, found 'yes'",
    ),
    "prereleases on exact pins": (
        cell_toml(extra="prereleases = true\n"),
        "cell #1 (tf4.57.6-torch2.13.0): prereleases = true needs a selector",
    ),
}


@pytest.mark.parametrize(("cells", "expected"), BAD_SELECTORS.values(), ids=BAD_SELECTORS.keys())
def test_bad_selectors_give_one_clear_error(tmp_path: Path, cells: str, expected: str) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(HEADER + cells)
    with pytest.raises(PinsError) as raised:
        load_pins(path)
    assert str(raised.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(raised.value)


def test_repo_pins_are_exact_so_the_default_matrix_is_reproducible() -> None:
    assert load_pins(REPO_PINS).pending == ()


def test_repo_latest_pins_resolve_from_a_loopback_index(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_index() as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        pins = resolve_latest(REPO_PINS.with_name("pins-latest.toml"))
    assert pins.pending == () and pins.cells
    assert {cell.torch for cell in pins.cells} <= {"2.13.0", "2.14.1", "2.15.0"}
    assert all(cell.requested for cell in pins.cells), "an exact pair belongs in pins.toml"
    assert len({cell.id for cell in pins.cells}) == len(pins.cells)
    assert snapshot_problem(pins.snapshot) is None, "latest resolves now, and records when that was"
    assert {cell.snapshot for cell in pins.cells} == {pins.snapshot}, "every cell installs as of that time"


def test_a_cell_may_run_on_its_own_python_and_says_so_in_its_pins(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(HEADER + cell_toml(extra='python = "3.10"\n') + cell_toml(torch='"2.10.0"'))
    pins = load_pins(path)
    own, default = pins.cells
    assert (pins.python_for(own), pins.python_for(default)) == ("3.10", "3.11")
    assert own.to_json()["pins"] == {"transformers": "4.57.6", "torch": "2.13.0", "python": "3.10"}
    assert "python" not in default.to_json()["pins"]


def test_a_selector_cell_keeps_its_own_python_when_resolved(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(HEADER + cell_toml(torch='"latest"', extra='python = "3.12"\n'))
    pins = resolve(load_pins(path), lambda package, pre: [Version("2.12.0"), Version("2.13.0")])
    assert [(cell.id, pins.python_for(cell)) for cell in pins.cells] == [("tf4.57.6-torch2.13.0", "3.12")]


def test_the_default_matrix_runs_one_cell_on_python_3_10() -> None:
    pins = load_pins(REPO_PINS)
    assert [cell.id for cell in pins.cells if pins.python_for(cell) == "3.10"] != []


SNAPSHOT_FILE = 'schema_version = 1\npython = "3.11"\nsnapshot = {snapshot}\n\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n\n[[cell]]\ntransformers = "latest"\ntorch = "2.13.0"\n'


def test_every_cell_carries_its_file_s_index_snapshot_outside_its_identity(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(SNAPSHOT_FILE.format(snapshot='"2026-12-07T02:00:00Z"'))
    pins = load_pins(path)
    assert pins.snapshot == pins.cells[0].snapshot == pins.pending[0].snapshot == "2026-12-07T02:00:00Z"
    assert pins.cells[0].id == "tf4.57.6-torch2.13.0" and "snapshot" not in pins.cells[0].to_json()["pins"]
    resolved = resolve(pins, lambda package, prereleases: [Version("4.58.0")])
    assert {cell.snapshot for cell in resolved.cells} == {"2026-12-07T02:00:00Z"}


@pytest.mark.parametrize(("value", "expected"), [
    ('"2026-12-07"', "is not a UTC time written like"),
    ('"2026-12-07T02:00:00+01:00"', "is not a UTC time written like"),
    ('"2026-12-07T02:00:00.5Z"', "is not a UTC time written like"),  # RFC 3339, but not to the second
    ('"2026-12-07 02:00:00Z"', "is not a UTC time written like"),
    ("2026-12-07T02:00:00Z", "must be a UTC time like"),  # a TOML date-time, not the string
    ('"2999-01-01T00:00:00Z"', "is in the future"),
])
def test_a_bad_snapshot_is_one_clear_error(tmp_path: Path, value: str, expected: str) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(SNAPSHOT_FILE.format(snapshot=value))
    with pytest.raises(PinsError, match=expected):
        load_pins(path)


def test_a_file_without_a_snapshot_is_taken_as_of_now_once(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(SNAPSHOT_FILE.replace("snapshot = {snapshot}\n", ""))
    pins = load_pins(path)
    assert pins.snapshot is None
    now = fixed(pins)
    assert snapshot_problem(now.snapshot) is None
    assert {cell.snapshot for cell in (*now.cells, *now.pending)} == {now.snapshot}
    assert fixed(now) is now


def test_the_repo_pins_files_name_a_snapshot_except_latest() -> None:
    assert load_pins(REPO_PINS.with_name("pins.toml")).snapshot is not None
    assert load_pins(REPO_PINS.with_name("pins-full.toml")).snapshot is not None
    assert load_pins(REPO_PINS.with_name("pins-latest.toml")).snapshot is None, "latest exists to see new releases"
