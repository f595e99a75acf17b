"""kvmatrix.pins: a valid pins file loads; every malformed one fails with one clear PinsError."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.pins import Cell, PinsError, load_pins

REPO_PINS = Path(__file__).resolve().parents[2] / "pins.toml"
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
            "allowed fields: transformers, torch, note, tags"
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
        "unknown top-level key 'cells'; allowed keys: schema_version, python, cell",
    ),
    "python not major.minor": (
        'schema_version = 1\npython = "3"\n' + cell_toml(),
        'python must be a "major.minor" string like "3.11", found \'3\'',
    ),
    "no cells": (HEADER, "no cells"),
    "cell not an array of tables": (HEADER + 'cell = "4.57.6"\n', "'cell' must be an array of tables"),
    "tags not a list": (HEADER + cell_toml(extra='tags = "smoke"\n'), "tags must be a list of non-empty"),
    "tags with a number": (HEADER + cell_toml(extra="tags = [1]\n"), "non-empty strings, found [1]"),
    "note not a string": (HEADER + cell_toml(extra="note = 3\n"), "note must be a string, found 3"),
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
