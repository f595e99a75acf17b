"""Cell environments for bisect and `latest` runs (kvmatrix.envs), and running a selection of suite tests
in one (kvmatrix.cell.run_suites), for real: uv and pytest subprocesses, no torch."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from kvmatrix.cell import run_suites
from kvmatrix.envs import VenvError, ensure_venv

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
REPO = Path(__file__).resolve().parents[2]


@needs_uv
def test_an_environment_is_created_once_and_then_reused(tmp_path: Path) -> None:
    python = ensure_venv(tmp_path / "env", PYTHON)
    assert Path(python).is_absolute() and Path(python).exists()
    marker = Path(python).parents[1] / "kept"
    marker.write_text("an environment that exists is reused as it is")
    assert ensure_venv(tmp_path / "env", PYTHON) == python
    assert marker.exists()


@needs_uv
def test_an_environment_uv_cannot_make_raises_with_uvs_reason(tmp_path: Path) -> None:
    with pytest.raises(VenvError, match=r"\(python 2\.1\) failed: .*2\.1"):
        ensure_venv(tmp_path / "env", "2.1")


def test_run_suites_with_a_selection_runs_only_the_selected_tests(tmp_path: Path) -> None:
    root, work = tmp_path / "repo", tmp_path / "work"
    (root / "suites").mkdir(parents=True)
    work.mkdir()
    for name in ("__init__.py", "recorder.py"):  # run_suites loads the recorder plugin (-p suites.recorder)
        shutil.copy(REPO / "suites" / name, root / "suites" / name)
    (root / "suites" / "test_demo.py").write_text(
        "import os\n\n"
        "def test_a():\n    assert os.environ['KVCC_REGISTRATION'] == 'without'\n\n"
        "def test_b():\n    pass\n")
    selected = run_suites(sys.executable, root, "without", work, selection=["suites/test_demo.py::test_b"])
    assert selected["exit_code"] == 0
    assert "1 passed" in selected["log_tail"]
    everything = run_suites(sys.executable, root, "without", work)
    assert "2 passed" in everything["log_tail"]
