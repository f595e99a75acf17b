"""`nox -s refresh` for real (kvmatrix.plan.refresh through the noxfile, uv and a loopback index): its plan moves
the snapshot date and says what moves in each cell; a refresh runs only the cell whose resolved set moved.
The refresh's parts one by one: tests/kvmatrix/plan/test_refresh.py."""

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
from kvmatrix.plan.pins import UTC_FORMAT, load_pins
from kvmatrix.run.cell import inputs_of
from kvmatrix.run.env.interpreters import find_interpreter
from tests.support.index_server import Release, serve_index, use_only


def test_nox_refresh_plan_moves_the_date_and_says_what_moves_in_each_cell(tmp_path: Path) -> None:
    """`nox -s refresh -- --plan` for real (uv against the index) on a copy of pins.toml, moved by one second:
    it says for every published cell exactly what re-resolving at the unmoved date says (so a cell is reused
    when the index still serves, at that date, the sets the published records hold), and the copy holds the
    new date. The unmoved plan is the reference because an index may add files dated before a snapshot after
    it was resolved (seen here: huggingface-hub 2.5.0, uploaded 2026-11-26, absent from the resolution the
    published matrix made at 2026-12-07T02:00:00Z, served a day later), which no date can keep out."""
    pins = tmp_path / "pins.toml"
    pins.write_text((REPO_ROOT / "pins.toml").read_text())
    snapshot = load_pins(pins).snapshot
    later = (datetime.strptime(snapshot, UTC_FORMAT) + timedelta(seconds=1)).strftime(UTC_FORMAT)

    def plan(to: str) -> tuple[str, list[str]]:
        message = tmp_path / f"refresh-{to}.txt"
        done = subprocess.run([sys.executable, "-m", "nox", "-s", "refresh", "--", "--plan", "--to", to,
                               "--message", str(message)], cwd=REPO_ROOT, capture_output=True, text=True,
                              env={**os.environ, "KVCC_PINS": str(pins)}, timeout=900, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert load_pins(pins).snapshot == to
        said = [line.partition("nox > ")[2] for line in done.stderr.splitlines()]
        return message.read_text(), [next(line for line in said if line.startswith(f"{cell.id}: "))
                                     for cell in load_pins(pins).cells]

    unmoved_message, unmoved = plan(snapshot)
    message, moved = plan(later)
    assert moved == unmoved
    title = unmoved_message.splitlines()[0].replace(f"to {snapshot}:", f"to {later}:")
    assert message.splitlines()[0] == title
    assert all(line.endswith("nothing moves; reused") for line in moved) == title.endswith("no package moved")


MOVED_DAY = ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
"""The snapshot before and after the refresh: one day, across which kvcc-dep 1.1 was released."""


def fake_index() -> list[Release]:
    """Every project a fake cell and its clients install, released long before the day moved, but kvcc-dep
    1.1, released within it: transformers 90.0 requires kvcc-dep, 91.0 does not; torch has no upload time, as
    on the PyTorch CPU index."""
    old = "2026-06-01T00:00:00Z"
    tools = [Release(name, "99.0", old) for name in
             ("pytest", "pytest-xdist", "pytest-timeout", "hypothesis", "setuptools", "executorch", "tico",
              "onnxscript", "onnxruntime")]
    return [*tools, Release("torch", "9.0.0", None), Release("transformers", "90.0", old, ("kvcc-dep",)),
            Release("transformers", "91.0", old), Release("kvcc-dep", "1.0", old),
            Release("kvcc-dep", "1.1", "2026-12-01T12:00:00Z")]


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
    assert (f"{moving.id}: kvcc-dep 1.0 -> 1.1, executorch: kvcc-dep 1.0 -> 1.1, onnx: kvcc-dep 1.0 -> 1.1, "
            "tico: kvcc-dep 1.0 -> 1.1") in output
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
