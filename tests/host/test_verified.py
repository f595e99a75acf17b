"""The verified pins bundled for `kvcc check` (compat/verified.json): written from the published matrix,
and kept in step with it."""

from __future__ import annotations

import json
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import USES
from kvmatrix.render.verified import FORMAT, main, verified


def test_the_bundled_file_is_in_step_with_the_published_matrix() -> None:
    bundled = json.loads((REPO_ROOT / "compat" / "verified.json").read_text())
    assert bundled == verified(load_matrix(REPO_ROOT / "reports" / "matrix.json"))


def test_it_holds_every_use_of_every_cell(tmp_path: Path) -> None:
    out = tmp_path / "verified.json"
    assert main([str(REPO_ROOT / "reports" / "matrix.json"), str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["format"] == FORMAT
    assert [use["key"] for use in data["uses"]] == [use.key for use in USES]
    assert all(set(cell["answers"]) == {use.key for use in USES} for cell in data["cells"])
