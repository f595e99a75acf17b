"""tox parity: tox.ini is generated from pins.toml, committed up to date, and tox sees one env per cell."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from kvmatrix.plan.pins import load_pins
from kvmatrix.plan.toxgen import main as toxgen_main
from kvmatrix.plan.toxgen import render_tox_ini
from kvmatrix.run.cell_cli import main as cell_main

REPO = Path(__file__).resolve().parents[2]


def test_committed_tox_ini_is_what_pins_toml_generates() -> None:
    committed = (REPO / "tox.ini").read_text(encoding="utf-8")
    assert committed == render_tox_ini(load_pins(REPO / "pins.toml")), (
        "tox.ini is out of date with pins.toml: run `python -m kvmatrix.plan.toxgen`"
    )


def test_tox_ini_says_it_is_generated_and_how_to_regenerate_it() -> None:
    header = (REPO / "tox.ini").read_text(encoding="utf-8").split("\n[tox]")[0]
    assert "do not edit" in header and "Change pins.toml and run `python -m kvmatrix.plan.toxgen`" in header


def test_one_uv_created_env_per_cell_each_running_the_cell_runner(pins_file: Path) -> None:
    pins = load_pins(pins_file)
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(render_tox_ini(pins))
    assert config["tox"]["env_list"].split() == [cell.id for cell in pins.cells]
    assert "tox-uv>=1.20" in config["tox"]["requires"].split()
    env = config["testenv"]
    assert env["basepython"] == "python3.11"
    assert env["commands"] == "python -m kvmatrix.run.cell_cli {env_name} {posargs}"
    assert "UV_*" in env["pass_env"].split()


def test_tox_itself_lists_exactly_the_cells_of_pins_toml() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "tox", "-l"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert listed.stdout.split() == [cell.id for cell in load_pins(REPO / "pins.toml").cells]


def test_check_mode_reports_a_stale_file_and_writing_fixes_it(tmp_path: Path, pins_file: Path) -> None:
    output = tmp_path / "tox.ini"
    output.write_text("[tox]\n")
    assert toxgen_main(["--pins", str(pins_file), "--output", str(output), "--check"]) == 1
    assert output.read_text() == "[tox]\n"
    assert toxgen_main(["--pins", str(pins_file), "--output", str(output)]) == 0
    assert toxgen_main(["--pins", str(pins_file), "--output", str(output), "--check"]) == 0


def test_cell_runner_refuses_an_unknown_cell(pins_file: Path, tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    status = cell_main(["tf0.0.1-torch0.0.1", "--pins", str(pins_file), "--results", str(results)])
    assert status == 2
    assert "no cell with id tf0.0.1-torch0.0.1" in capsys.readouterr().err
    assert not results.exists()


def test_a_cell_with_its_own_python_gets_a_section_naming_that_interpreter(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text('schema_version = 1\npython = "3.11"\n\n[[cell]]\ntransformers = "4.56.2"\ntorch = "2.8.0"\n'
                    'python = "3.10"\n\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n')
    text = render_tox_ini(load_pins(path))
    assert "basepython = python3.11\n" in text
    assert "\n[testenv:tf4.56.2-torch2.8.0]\nbasepython = python3.10\n" in text
    assert "[testenv:tf4.57.6-torch2.13.0]" not in text
