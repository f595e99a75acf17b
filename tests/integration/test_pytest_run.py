"""Cell environments for bisect and `latest` runs (kvmatrix.run.env.envs), and running suite tests in one
(kvmatrix.run.process.pytest_run.run_suites / run_modes), for real: uv and pytest subprocesses, no torch."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from kvmatrix.run.env.bytecode import bytecode_dir
from kvmatrix.run.env.envs import VenvError, ensure_venv
from kvmatrix.run.process.progress import finished_tests
from kvmatrix.run.process.pytest_run import run_modes, run_suites
from tests.support.checkouts import demo_repo, run_one_suite_file

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
    root, work = demo_repo(tmp_path / "repo"), tmp_path / "work"
    work.mkdir()
    selected = run_suites(sys.executable, root, "without", work, selection=["suites/test_demo.py::test_b"])
    assert selected["exit_code"] == 0
    assert "1 passed" in selected["log_tail"]
    everything = run_suites(sys.executable, root, "without", work)
    assert "2 passed" in everything["log_tail"]


def test_the_suites_run_as_in_an_activated_environment(tmp_path: Path) -> None:
    """The environment's commands (ExecuTorch's `flatc`) are found on PATH, as in a user's activated shell."""
    run_one_suite_file(tmp_path / "repo", "test_path.py",
                       "def test_bin_first():\n"
                       "    assert os.environ['PATH'].split(os.pathsep)[0] == str(Path(sys.executable).parent)\n"
                       "    assert os.environ['VIRTUAL_ENV'] == str(Path(sys.executable).parent.parent)\n")


def test_the_suites_keep_their_bytecode_in_the_environment_and_never_in_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even where PYTHONDONTWRITEBYTECODE is set, the environment's processes write bytecode, under the
    environment: a later run imports torch and transformers without compiling them again."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    root = run_one_suite_file(
        tmp_path / "repo", "test_bytecode.py",
        "def test_writes_bytecode_under_the_environment():\n"
        "    assert not sys.dont_write_bytecode\n"
        "    assert sys.pycache_prefix == str(Path(sys.executable).parent.parent / 'kvcc-bytecode')\n")
    compiled = list(bytecode_dir(sys.executable).glob(f"**{root}/suites/test_bytecode*.pyc"))
    assert compiled, "the test module's bytecode is kept under the environment"
    assert not list(root.rglob("__pycache__")), "nothing is written into the checkout"


def test_the_recorder_leaves_how_many_tests_finished_of_those_collected(tmp_path: Path) -> None:
    root, work = demo_repo(tmp_path / "repo"), tmp_path / "work"
    run_suites(sys.executable, root, "without", work, selection=["suites/test_demo.py::test_b"])
    assert finished_tests(work / "without.json.progress") == (1, 1)
    run_suites(sys.executable, root, "without", work)
    assert finished_tests(work / "without.json.progress") == (2, 2)


def test_the_cell_description_comes_from_the_xdist_worker(tmp_path: Path) -> None:
    run = run_suites(sys.executable, demo_repo(tmp_path / "repo"), "with", tmp_path)
    assert run["meta"]["layout"].startswith("described by worker ")
    assert run["meta"]["session_started_at"] <= run["meta"]["session_finished_at"]


def _spans(runs: dict) -> list[tuple[float, float]]:
    return [(run["started_at"], run["started_at"] + run["duration_s"]) for run in runs.values()]


@pytest.mark.parametrize("at_once", ["2", "1"])
def test_both_registration_runs_report_at_once_or_one_after_another(tmp_path: Path, monkeypatch, at_once: str) -> None:
    monkeypatch.setenv("KVCC_MODES_AT_ONCE", at_once)
    runs = run_modes(sys.executable, demo_repo(tmp_path / "repo"), tmp_path / "not-made-yet")
    verdicts = {mode: {t["name"]: t["verdict"] for t in run["tests"]} for mode, run in runs.items()}
    assert verdicts == {"without": {"test_a": "pass", "test_b": "pass"}, "with": {"test_a": "fail", "test_b": "pass"}}
    (_, first_end), (second_start, _) = sorted(_spans(runs))
    rounding = 0.02  # started_at and duration_s are kept to 0.01 s
    overlapping = second_start < first_end - rounding
    assert overlapping is (at_once == "2")


def test_a_bare_exception_from_library_code_is_located(tmp_path: Path) -> None:
    root = demo_repo(tmp_path / "repo")
    (root / "suites" / "checks.py").write_text("def check(value):\n    assert value\n")  # not assert-rewritten
    (root / "suites" / "test_bare.py").write_text(
        "from suites.checks import check\n\n"
        "def test_bare():\n    check(False)\n\n"
        "def test_with_message():\n    raise KeyError('layers')\n")
    run = run_suites(sys.executable, root, "with", tmp_path, selection=["suites/test_bare.py"])
    errors = {t["name"]: t["error"] for t in run["tests"]}
    assert errors == {"test_bare": "AssertionError at suites/checks.py:2", "test_with_message": "KeyError: 'layers'"}
