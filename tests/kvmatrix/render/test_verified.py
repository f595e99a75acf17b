"""The verified pins bundled for `kvcc check` (compat/verified.json): written from the published answers
(reports/uses.json), and kept in step with them."""

from __future__ import annotations

import json
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.record.uses import USES
from kvmatrix.render.verified import FORMAT, load_uses, main, verified

USES_FILE = REPO_ROOT / "reports" / "uses.json"


def test_the_bundled_file_is_in_step_with_the_published_answers() -> None:
    bundled = json.loads((REPO_ROOT / "compat" / "verified.json").read_text())
    assert bundled == verified(load_uses(USES_FILE))


def test_it_holds_every_use_of_every_cell_with_its_route_and_requirements(tmp_path: Path) -> None:
    out = tmp_path / "verified.json"
    assert main([str(USES_FILE), str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["format"] == FORMAT
    assert [use["key"] for use in data["uses"]] == [use.key for use in USES]
    assert all(set(cell["answers"]) == {use.key for use in USES} for cell in data["cells"])
    published = json.loads(USES_FILE.read_text())
    for use in published["uses"]:
        for pair, found in use["answers"].items():
            kept = next(cell for cell in data["cells"] if cell["id"] == pair)["answers"][use["key"]]
            assert (kept["answer"], kept.get("requires", [])) == (found["answer"], found["requires"])


def test_a_file_that_is_not_a_uses_document_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "uses.json").write_text('{"format": "other"}')
    assert main([str(tmp_path / "uses.json"), str(tmp_path / "out.json")]) == 2
    assert capsys.readouterr().out.startswith("error: ")
