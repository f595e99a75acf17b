"""Replaying a recorded cell with real uv against PyPI: installing with the constraints of a run's freeze (its
detail file, through `python -m kvmatrix.run.cell_cli --constraints FILE`) gives the versions it recorded."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kvmatrix.run.cell_cli import constraints_file
from kvmatrix.run.env.install import freeze, install
from tests.support.records import FROZEN_DETAIL as DETAIL


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
def test_installing_with_a_recorded_freeze_replays_its_versions(tmp_path: Path) -> None:
    subprocess.run(["uv", "venv", "-q", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    detail = tmp_path / "detail.json"
    detail.write_text(json.dumps({**DETAIL, "freeze": ["six==1.16.0"]}))
    outcome = install(python, ["six"], retries=1, constraints=constraints_file(detail, tmp_path / "work"))
    assert outcome.status == "ran", outcome.reason
    assert freeze(python) == ["six==1.16.0"]
