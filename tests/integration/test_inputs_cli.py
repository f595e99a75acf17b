"""The workflow's entry point to a cell's inputs with real uv: the key of a real pinned cell."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kvmatrix.run.inputs_cli import main
from tests.support.records import RAN_CELL_ID as CELL_ID


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
def test_the_key_of_a_real_pinned_cell_is_a_sha256(pinned: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["key", CELL_ID]) == 0
    assert re.fullmatch(r"[0-9a-f]{64}", capsys.readouterr().out.strip())
