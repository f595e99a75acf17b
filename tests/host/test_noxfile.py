"""The noxfile turns a bad pins file into one clear error line, and lists one session per pinned cell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kvmatrix.pins import load_pins

ROOT = Path(__file__).resolve().parents[2]


def nox_list(pins: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KVCC_PINS": pins}
    return subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_a_bad_pins_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "pins.toml"
    bad.write_text('schema_version = 1\npython = "3.11"\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\ntorh = "x"\n')
    proc = nox_list(str(bad))
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "unknown field 'torh'" in lines[-1]
    assert "Traceback" not in proc.stderr


def test_every_pinned_cell_is_a_session() -> None:
    proc = nox_list("pins.toml")
    assert proc.returncode == 0, proc.stderr
    for cell in load_pins(ROOT / "pins.toml").cells:
        assert f"cell({cell.id})" in proc.stdout
