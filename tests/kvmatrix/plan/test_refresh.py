"""Moving the index snapshot (kvmatrix.plan.refresh, `nox -s refresh`): the pins file keeps every other byte,
each cell says which packages move, and the commit message names them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import SNAPSHOT_FORMAT, PinsError, load_pins
from kvmatrix.plan.refresh import commit_message, move_snapshot, moves_by_cell, package_moves, report_lines
from kvmatrix.record.matrix import load_published
from kvmatrix.run.cell import inputs_of
from kvmatrix.run.env.interpreters import find_interpreter
from kvmatrix.run.reuse import published_records
from tests.support.index_server import Release, serve_index, use_only

BEFORE = "2026-12-06T02:00:00Z"
AFTER = "2026-12-07T02:00:00Z"


def inputs(resolved: list[str], **clients: list[str] | str) -> dict[str, object]:
    return {"key": "k", "parts": {"resolved": resolved, "clients": clients}}


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


@pytest.mark.integration
def test_nox_refresh_plan_moves_the_date_and_says_what_moves_in_each_cell(tmp_path: Path) -> None:
    """`nox -s refresh -- --plan` for real (uv against the index) on a copy of pins.toml: a move by one second
    moves no package of any published cell, so each is reused; the copy holds the new date."""
    pins = tmp_path / "pins.toml"
    pins.write_text((REPO_ROOT / "pins.toml").read_text())
    snapshot = datetime.strptime(load_pins(pins).snapshot, SNAPSHOT_FORMAT)
    later = (snapshot + timedelta(seconds=1)).strftime(SNAPSHOT_FORMAT)
    message = tmp_path / "refresh.txt"
    done = subprocess.run([sys.executable, "-m", "nox", "-s", "refresh", "--", "--plan", "--to", later,
                           "--message", str(message)], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "KVCC_PINS": str(pins)}, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert load_pins(pins).snapshot == later
    assert message.read_text().startswith(f"Refresh the index snapshot to {later}: no package moved")
    for cell in load_pins(pins).cells:
        assert f"{cell.id}: nothing moves; reused" in done.stderr


MOVED_DAY = ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
"""The snapshot before and after the refresh: one day, across which kvcc-dep 1.1 was released."""


def fake_index() -> list[Release]:
    """Every project a fake cell and its clients install, released long before the day moved, but kvcc-dep
    1.1, released within it: transformers 90.0 requires kvcc-dep, 91.0 does not; torch has no upload time, as
    on the PyTorch CPU index."""
    old = "2026-06-01T00:00:00Z"
    tools = [Release(name, "99.0", old) for name in
             ("pytest", "pytest-xdist", "pytest-timeout", "hypothesis", "setuptools", "executorch", "tico")]
    return [*tools, Release("torch", "9.0.0", None), Release("transformers", "90.0", old, ("kvcc-dep",)),
            Release("transformers", "91.0", old), Release("kvcc-dep", "1.0", old),
            Release("kvcc-dep", "1.1", "2026-12-01T12:00:00Z")]


@pytest.mark.integration
def test_nox_refresh_moves_the_date_by_a_day_and_runs_only_the_cell_whose_set_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_cell
) -> None:
    """Two published cells on a loopback index; the day moved saw kvcc-dep 1.1 released, which only the first
    cell's transformers needs: refresh names that move in that cell (and its clients' environments), reuses the
    other without starting its session, runs the first, publishes and leaves the new date in the pins file."""
    checkout = tmp_path / "repo"
    for name in ("kvmatrix", "suites", "compat"):
        shutil.copytree(REPO_ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, checkout / name)
    pins_file = checkout / "pins.toml"
    pins_file.write_text(f'schema_version = 1\npython = "3.11"\nsnapshot = "{MOVED_DAY[0]}"\n\n'
                         '[[cell]]\ntransformers = "90.0"\ntorch = "9.0.0"\n\n'
                         '[[cell]]\ntransformers = "91.0"\ntorch = "9.0.0"\n')
    moving, staying = load_pins(pins_file).cells
    with serve_index(releases=fake_index()) as index:
        use_only(monkeypatch, index.url)
        monkeypatch.setenv("KVCC_PINS", str(pins_file))
        monkeypatch.setenv("KVCC_RERUNS", "0")  # in this process too: the published inputs record it
        env = dict(os.environ)
        earlier = tmp_path / "earlier"
        earlier.mkdir()
        for cell in (moving, staying):
            inputs = inputs_of(cell, find_interpreter("3.11"), checkout)
            assert inputs is not None, "uv could not resolve the fake cell"
            record = {**make_cell(cell.transformers, cell.torch, {}), "inputs": inputs,
                      "finished_at": "2026-12-01T01:00:00Z"}
            (earlier / f"{cell.id}.json").write_text(json.dumps(record))

        def nox(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "nox", "-s", *args], cwd=checkout, capture_output=True,
                                  text=True, env=env, timeout=900, check=False)

        published = nox("publish", "--", "--results", str(earlier), "--cells", f"{moving.id},{staying.id}")
        assert published.returncode == 0, published.stdout + published.stderr
        done = nox("refresh", "--", "--to", MOVED_DAY[1])
    output = done.stdout + done.stderr
    assert load_pins(pins_file).snapshot == MOVED_DAY[1]
    assert f"{moving.id}: kvcc-dep 1.0 -> 1.1, executorch: kvcc-dep 1.0 -> 1.1, tico: kvcc-dep 1.0 -> 1.1" in output
    assert f"{staying.id}: nothing moves; reused" in output
    assert f"{staying.id}: reused the result of the run finished at 2026-12-01T01:00:00Z" in output
    assert f"{moving.id}: run (inputs changed since the published matrix: resolved, clients)" in output
    assert f"Running session cell({moving.id})" in output and f"Running session cell({staying.id})" not in output
    assert (checkout / "build" / "refresh.txt").read_text().startswith(
        f"Refresh the index snapshot to {MOVED_DAY[1]}: kvcc-dep moved")
    matrix = json.loads((checkout / "reports" / "matrix.json").read_text())
    assert matrix["index_snapshot"] == MOVED_DAY[1]
    detail = json.loads((checkout / "reports" / "cells" / f"{moving.id}.json").read_text())
    assert detail["index_snapshot"] == MOVED_DAY[1], "the cell that ran installed as of the new date"
