"""kvmatrix.run.one_test: the one-line command that re-runs one failing test alone in its pair."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.run.one_test import command, main, pytest_command

NODEID = "suites/test_export.py::test_decode_step_exports_and_matches_eager[Dynamic'Cache-strict-static]"


def test_the_command_survives_the_shell_with_any_test_id() -> None:
    line = command("tf4.57.6-torch2.10.0", "without", NODEID)
    assert shlex.split(line) == ["python", "-m", "kvmatrix.run.one_test", "--pair", "tf4.57.6-torch2.10.0",
                                 "--mode", "without", NODEID]


def test_the_test_runs_alone_in_its_mode_offline_with_the_long_traceback() -> None:
    argv, env = pytest_command("/envs/x/bin/python", "without", NODEID)
    assert argv[:4] == ["/envs/x/bin/python", "-m", "pytest", NODEID]
    assert {"--tb=long", "no:xdist", "kvmatrix.run.process.recorder"} <= set(argv)
    assert (env["KVCC_REGISTRATION"], env["HF_HUB_OFFLINE"]) == ("without", "1")


@pytest.mark.parametrize("nodeid", ["tests/kvmatrix/plan/test_pins.py::test_x", "suites/test_export.py", "-k x"])
def test_anything_but_a_suite_test_id_is_refused_before_an_environment_is_made(
    nodeid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--pair", "tf4.57.6-torch2.13.0", "--envs", str(tmp_path), "--", nodeid]) == 2
    assert "is not a suite test id" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_bad_pair_is_refused_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--pair", "torch-2", "--envs", str(tmp_path), NODEID]) == 2
    assert capsys.readouterr().err.startswith("error: 'torch-2' is not a cell id")


def test_the_page_and_this_module_agree_on_the_command() -> None:
    from kvmatrix.render.html import page_data

    template = page_data({"cells": []}, {})["one_test"]
    assert template.replace("{cell}", "c").replace("{mode}", "with").replace("{nodeid}", "n") == command(
        "c", "with", "n")


NOT_CELL_IDS = [
    ("tf4.57.6-torch2.13.0+cu999", "torch '2.13.0+cu999' has a local version label"),
    ("tfv4.57.6-torch2.13.0", "transformers 'v4.57.6' is not in canonical form; write '4.57.6'"),
    ("tf4.57.6.rc1-torch2.13.0", "transformers '4.57.6.rc1' is not in canonical form; write '4.57.6rc1'"),
]
"""Pair ids that spell no cell's versions, and what the refusal says, for one_test and cell_cli alike."""
NOT_CELL_ID_NAMES = ["short torch", "local label", "v prefix", "non-canonical pre-release"]


@pytest.mark.parametrize(
    ("pair", "problem"),
    [("tf4.56.2-torch2.8", "'tf4.56.2-torch2.8' is not a cell id of pins.toml: write tf4.56.2-torch2.8.0"),
     *NOT_CELL_IDS],
    ids=NOT_CELL_ID_NAMES,
)
def test_a_pair_that_is_no_cell_id_is_refused_before_an_environment_is_made(
    pair: str, problem: str, tmp_path: Path
) -> None:
    """These ran on the pins file's Python instead of the cell's own (tf4.56.2-torch2.8.0 runs on 3.10)."""
    proc = subprocess.run([sys.executable, "-m", "kvmatrix.run.one_test", "--pair", pair, "--pins", "pins.toml",
                           "--envs", str(tmp_path), NODEID], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and problem in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ("tf4.56.2-torch2.8", "pins.toml: write tf4.56.2-torch2.8.0"),
        *NOT_CELL_IDS,
    ],
    ids=NOT_CELL_ID_NAMES,
)
def test_cell_cli_refuses_a_pair_that_is_no_cell_id_before_an_environment_is_made(
    pair: str, problem: str, tmp_path: Path
) -> None:
    """Issue 31 item 17 through `python -m kvmatrix.run.cell_cli --pair`, the repro command of a cell a selector
    chose. uv runs offline and without a cache here, so an id that is wrongly taken costs an empty environment
    and a failed install, not a download."""
    envs, results = tmp_path / "envs", tmp_path / "results"
    env = {**os.environ, "UV_OFFLINE": "1", "UV_NO_CACHE": "1", "KVCC_CPU_WHEELS": "0"}
    proc = subprocess.run([sys.executable, "-m", "kvmatrix.run.cell_cli", "--pair", pair, "--envs", str(envs),
                           "--results", str(results)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and problem in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not envs.exists() and not results.exists()
