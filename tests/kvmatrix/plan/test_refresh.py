"""Moving the index snapshot (kvmatrix.plan.refresh, `nox -s refresh`): the pins file keeps every other byte,
each cell says which packages move, and the commit message names them. (`nox -s refresh` for real:
tests/integration/test_refresh.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import PinsError, load_pins
from kvmatrix.plan.refresh import commit_message, move_snapshot, moves_by_cell, package_moves, report_lines
from kvmatrix.record.matrix import load_published
from kvmatrix.run.reuse import published_records
from tests.support.records import inputs

BEFORE = "2026-12-06T02:00:00Z"
AFTER = "2026-12-07T02:00:00Z"


def test_moving_the_snapshot_rewrites_its_line_alone(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    text = (REPO_ROOT / "pins.toml").read_text()
    path.write_text(text)
    was = load_pins(path).snapshot
    assert move_snapshot(path, BEFORE) == was
    assert load_pins(path).snapshot == BEFORE
    assert path.read_text() == text.replace(f'snapshot = "{was}"', f'snapshot = "{BEFORE}"')


@pytest.mark.parametrize(("content", "to", "expected"), [
    ('schema_version = 1\npython = "3.11"\n[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n', BEFORE,
     "names no snapshot to move"),
    ('schema_version = 1\npython = "3.11"\nsnapshot = "2026-12-01T00:00:00Z"\n'
     '[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n', "tomorrow", "is not a UTC time"),
    ('schema_version = 1\npython = "3.11"\nsnapshot = "2026-12-01T00:00:00Z"\n'
     '[[cell]]\ntransformers = "4.57.6"\ntorch = "2.13.0"\n', "2999-01-01T00:00:00Z", "is in the future"),
])
def test_a_snapshot_that_cannot_move_is_refused_and_the_file_kept(tmp_path: Path, content: str, to: str,
                                                                 expected: str) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(content)
    with pytest.raises(PinsError, match=expected):
        move_snapshot(path, to)
    assert path.read_text() == content


def test_package_moves_cover_the_cell_and_each_client_environment() -> None:
    before = inputs(["regex==2026.11.1", "torch==2.8.0", "tqdm==4.67.1"],
                    executorch=["executorch==0.7.0", "regex==2026.11.1"], tico="not-installable: no tico")
    after = inputs(["regex==2026.12.2", "torch==2.8.0", "wheel==0.46.0"],
                   executorch=["executorch==0.7.0", "regex==2026.12.2"], tico=["tico==0.3.0"])
    assert package_moves(before, after) == [
        "regex 2026.11.1 -> 2026.12.2", "tqdm 4.67.1 -> gone", "wheel new -> 0.46.0",
        "executorch: regex 2026.11.1 -> 2026.12.2", "tico: tico new -> 0.3.0"]
    assert package_moves(before, before) == []
    assert package_moves(None, after) is None


def test_the_commit_message_names_each_package_that_moved_and_where() -> None:
    moves = moves_by_cell(["a", "b", "c"], {"a": {"inputs": inputs(["regex==1"])}, "b": {"inputs": inputs(["x==1"])}},
                          [inputs(["regex==2"]), inputs(["x==1"]), inputs(["y==1"])])
    assert moves == {"a": ["regex 1 -> 2"], "b": [], "c": None}
    message = commit_message(BEFORE, AFTER, moves)
    title, _, body = message.partition("\n\n")
    assert title == f"Refresh the index snapshot to {AFTER}: regex moved"
    assert "- regex 1 -> 2 (in a)" in body
    assert report_lines(moves) == ["a: regex 1 -> 2", "b: nothing moves; reused",
                                   "c: cannot tell what moves (no published inputs, or its pins do not resolve); it runs"]
    assert commit_message(BEFORE, AFTER, {"b": []}).startswith(f"Refresh the index snapshot to {AFTER}: no package moved")


def test_the_published_matrix_holds_as_of_pins_toml_and_each_freeze_is_its_resolved_set() -> None:
    """reports/ moves with pins.toml's snapshot (a refresh commits both), and a --fresh run of a published cell
    installs exactly its freeze: the freeze is the set its inputs resolved as of that snapshot (and that a later
    day still resolves: test_nox_refresh_plan_moves_the_date_and_says_what_moves_in_each_cell)."""
    matrix, _ = load_published(REPO_ROOT / "reports" / "matrix.json")
    pins = load_pins(REPO_ROOT / "pins.toml")
    assert matrix["index_snapshot"] == pins.snapshot
    for record in published_records(REPO_ROOT / "reports").values():
        assert record["index_snapshot"] == pins.snapshot or record["reused_from"], record["id"]
        assert record["freeze"] == record["inputs"]["parts"]["resolved"], record["id"]
