"""kvmatrix.plan.resolved: resolved pins survive the trip through JSON; a bad file is one clear PinsError; and
`python -m kvmatrix.run.cell_cli --resolved FILE ID` runs such a cell in its own uv environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins, PinsError, as_of, load_pins
from kvmatrix.plan.resolved import load_resolved, resolved_json, write_resolved
from kvmatrix.record.cell_record import repro_command
from kvmatrix.run import cell_cli

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
LATEST = Cell("5.0.0rc3", "2.15.0", "pre-releases opted in", ("nightly",),
              (("transformers", "latest+prereleases"), ("torch", "latest")))
EXACT = Cell("4.57.6", "2.13.0", "exact", ("smoke",))


def resolved_pins(python: str = "3.11") -> Pins:
    return Pins(python=python, cells=(EXACT, LATEST), path="pins-latest.toml")


def test_resolved_pins_round_trip_through_json(tmp_path: Path) -> None:
    path = tmp_path / "plan" / "pins-latest.json"
    write_resolved(resolved_pins(), path)
    assert load_resolved(path) == resolved_pins()
    assert json.loads(path.read_text())["cells"][1] == {
        "id": "tf5.0.0rc3-torch2.15.0",
        "pins": {"transformers": "5.0.0rc3", "torch": "2.15.0",
                 "requested": {"transformers": "latest+prereleases", "torch": "latest"}},
        "note": "pre-releases opted in",
        "tags": ["nightly"],
    }


def test_pins_with_selectors_left_are_refused_not_reduced(tmp_path: Path) -> None:
    path = tmp_path / "pins-latest.toml"
    path.write_text('schema_version = 1\npython = "3.11"\n'
                    '[[cell]]\ntransformers = "latest"\ntorch = "2.13.0"\n')
    with pytest.raises(ValueError, match="1 cell\\(s\\) still have selectors"):
        resolved_json(load_pins(path))


def valid() -> dict[str, Any]:
    return resolved_json(resolved_pins())


def broken(change) -> dict[str, Any]:
    data = valid()
    change(data)
    return data


BAD = {
    "not an object": ([], "a resolved pins file is an object with exactly the keys"),
    "unknown key": (broken(lambda d: d.update(extra=1)), "a resolved pins file is an object with exactly"),
    "schema version": (broken(lambda d: d.update(schema_version=2)), "schema_version is 2; this reader"),
    "python": (broken(lambda d: d.update(python="3")), 'python a "major.minor" string'),
    "no cells": (broken(lambda d: d.update(cells=[])), "cells must be a non-empty list"),
    "no pins": (broken(lambda d: d["cells"][0].pop("pins")), "cell #1: needs id, pins"),
    "bad version": (broken(lambda d: d["cells"][0]["pins"].update(torch="2.13.0+cpu")),
                    "cell #1: '2.13.0+cpu' is not a canonical PEP 440 version"),
    "bad requested": (broken(lambda d: d["cells"][1]["pins"]["requested"].update(numpy="latest")),
                      "cell #2: requested must map transformers and/or torch"),
    "id mismatch": (broken(lambda d: d["cells"][0].update(id="tf4.57.6-torch2.5.1")),
                    "cell #1: id 'tf4.57.6-torch2.5.1' does not match its pins (tf4.57.6-torch2.13.0)"),
    "duplicate": (broken(lambda d: d["cells"].append(d["cells"][0])),
                  "duplicate cell id(s) tf4.57.6-torch2.13.0"),
}


@pytest.mark.parametrize(("data", "expected"), BAD.values(), ids=BAD.keys())
def test_a_malformed_resolved_file_is_one_clear_error(tmp_path: Path, data: Any, expected: str) -> None:
    path = tmp_path / "pins-latest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PinsError) as raised:
        load_resolved(path)
    assert str(raised.value).startswith(f"{path}: ") and expected in str(raised.value)


def test_a_missing_or_truncated_resolved_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "pins-latest.json"
    with pytest.raises(PinsError, match="resolved pins file not found"):
        load_resolved(path)
    path.write_text(json.dumps(valid())[:40])
    with pytest.raises(PinsError, match="invalid JSON .*; is the file truncated"):
        load_resolved(path)


def test_cell_cli_runs_a_resolved_cell_in_its_own_uv_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    resolved = tmp_path / "pins-latest.json"
    write_resolved(resolved_pins(PYTHON), resolved)
    calls = []

    def run_cell(cell: Cell, env: tuple[Path, str], results_dir: Path, **_: Any) -> dict[str, Any]:
        calls.append((cell, env, results_dir))
        return {"status": "ran", "suites": {"export": {"with": {"verdict": "pass"}}}}

    monkeypatch.setattr(cell_cli, "run_cell", run_cell)  # installing torch is for the cell jobs, not here
    envs, results = tmp_path / "envs", tmp_path / "cells"
    argv = ["--resolved", str(resolved), "--envs", str(envs), "--results", str(results), LATEST.id]
    assert cell_cli.main(argv) == 0
    ((cell, env, results_dir),) = calls
    assert cell == LATEST and results_dir == results.resolve()
    assert env == (envs / LATEST.id, PYTHON)  # run_cell makes the uv environment there, not sys.executable's
    assert capsys.readouterr().out == f"{LATEST.id}: status ran; with registration {{'export': 'pass'}}\n"


def test_cell_cli_refuses_a_cell_the_resolved_file_lacks(tmp_path: Path, capsys) -> None:
    resolved = tmp_path / "pins-latest.json"
    write_resolved(resolved_pins(), resolved)
    envs = tmp_path / "envs"
    assert cell_cli.main(["--resolved", str(resolved), "--envs", str(envs), "tf0.0.1-torch0.0.1"]) == 2
    assert "no cell with id tf0.0.1-torch0.0.1; known ids: tf4.57.6-torch2.13.0, tf5.0.0rc3-torch2.15.0" in (
        capsys.readouterr().err
    )
    assert not envs.exists()


def test_cell_cli_runs_an_exact_pair_from_its_id_in_its_own_uv_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(cell_cli, "run_cell", lambda cell, env, *_, **__: calls.append((cell, env)) or
                        {"status": "ran", "suites": {}})  # installing torch is for the cell jobs, not here
    envs = tmp_path / "envs"
    assert cell_cli.main(["--pair", "--envs", str(envs), "--results", str(tmp_path), "tf5.0.0rc3-torch2.15.0"]) == 0
    ((cell, env),) = calls
    assert (cell.transformers, cell.torch) == ("5.0.0rc3", "2.15.0")
    assert env == (envs / "tf5.0.0rc3-torch2.15.0", load_pins(cell_cli.REPO_ROOT / "pins.toml").python)


@pytest.mark.parametrize("bad", ["tf4.57.6", "torch2.13.0-tf4.57.6", "tfx.y-torch2.13.0"])
def test_cell_cli_refuses_a_pair_id_that_names_no_versions(bad: str, tmp_path: Path, capsys) -> None:
    assert cell_cli.main(["--pair", "--envs", str(tmp_path / "envs"), bad]) == 2
    assert bad in capsys.readouterr().err
    assert not (tmp_path / "envs").exists()


def test_the_repro_of_a_selector_chosen_cell_runs_its_exact_pair() -> None:
    assert repro_command(LATEST) == f"python -m kvmatrix.run.cell_cli --pair {LATEST.id}"
    assert repro_command(Cell(transformers="4.57.6", torch="2.13.0")) == "nox -s 'cell(tf4.57.6-torch2.13.0)'"


def test_cell_cli_takes_pins_or_resolved_pins_not_both(pins_file: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        cell_cli.main(["--pins", str(pins_file), "--resolved", str(tmp_path / "x.json"),
                       "tf4.57.6-torch2.13.0"])
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_cells_own_python_round_trips_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    own = Cell("4.56.2", "2.8.0", "py310", (), python="3.10")
    pins = Pins(python="3.11", cells=(EXACT, own), path="pins.toml")
    path = tmp_path / "resolved.json"
    write_resolved(pins, path)
    assert load_resolved(path) == pins
    data = json.loads(path.read_text())
    data["cells"][1]["pins"]["python"] = "three"
    path.write_text(json.dumps(data))
    with pytest.raises(PinsError, match=r"cell #2: python must be a \"major.minor\" string, found 'three'"):
        load_resolved(path)


def test_the_index_snapshot_travels_with_the_resolved_cells(tmp_path: Path) -> None:
    path = tmp_path / "pins-latest.json"
    write_resolved(as_of(resolved_pins(), "2026-12-07T02:00:00Z"), path)
    loaded = load_resolved(path)
    assert loaded.snapshot == "2026-12-07T02:00:00Z"
    assert {cell.snapshot for cell in loaded.cells} == {"2026-12-07T02:00:00Z"}
    assert "snapshot" not in json.loads(path.read_text())["cells"][0]["pins"], "the snapshot is no part of a cell's identity"
