"""`kvcc --help` and `kvcc check --help` answer where torch and transformers are not installed (the host's
test environment has neither), and describe every option."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("words", [["--help"], ["check", "--help"]])
def test_help_exits_0_without_torch_and_describes_every_option(words: list[str]) -> None:
    assert subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode != 0
    done = subprocess.run([sys.executable, "-m", "compat.check", *words], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    expected = ("check",) if words == ["--help"] else ("--json", "--matrix FILE", "kvcc-verified/2")
    assert all(option in done.stdout for option in expected)
    assert "usage: kvcc" in done.stdout and "Traceback" not in done.stdout


MALFORMED = pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"format": "kvcc-verified/2",', "not valid JSON (Expecting property name enclosed in double quotes"),
        ("[1, 2]", "not a kvcc-verified/2 file: format 'list'"),
        ('{"format": "kvcc-verified/1"}', "not a kvcc-verified/2 file: format 'kvcc-verified/1'"),
    ],
    ids=["JSON syntax error", "not an object", "another format"],
)
"""Answers files `kvcc check --matrix` must refuse, and the problem its one line names."""


@MALFORMED
def test_kvcc_check_with_a_malformed_matrix_file_is_one_line_naming_it(
    tmp_path: Path, content: str, problem: str
) -> None:
    """Said before the installed pair is looked for, so here, without torch, too."""
    matrix = tmp_path / "verified.json"
    matrix.write_text(content)
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--matrix", str(matrix)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {matrix}: {problem}") and done.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def kvcc_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `kvcc` console script of this checkout's wheel, installed without torch or transformers
    (`--no-deps`) into an environment of its own. Built from a copy of what the wheel is made of (compat/,
    pyproject.toml, README.md), so the build writes nothing into the checkout; a `kvcc` already on PATH may
    be another version's, so it is not the one tested."""
    if shutil.which("uv") is None:
        pytest.skip("uv is installed by the nox session")
    work = tmp_path_factory.mktemp("kvcc")
    source = work / "source"
    shutil.copytree(ROOT / "compat", source / "compat", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(["uv", "venv", "--quiet", str(work / "venv")], check=True, capture_output=True, timeout=300)
    subprocess.run(["uv", "pip", "install", "--quiet", "--no-deps", "--python", str(work / "venv" / "bin" / "python"),
                    str(source)], check=True, capture_output=True, timeout=300)
    return work / "venv" / "bin" / "kvcc"


@pytest.mark.integration
@MALFORMED
def test_the_kvcc_script_with_a_malformed_matrix_file_is_one_line_naming_it(
    kvcc_script: Path, tmp_path: Path, content: str, problem: str
) -> None:
    """Issue 31 item 19's `kvcc check --matrix` through the installed console script (the test above runs
    `python -m compat.check`), where neither torch nor transformers is installed."""
    matrix = tmp_path / "verified.json"
    matrix.write_text(content)
    done = subprocess.run([str(kvcc_script), "check", "--matrix", str(matrix)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {matrix}: {problem}") and done.stderr.count("\n") == 1, done.stderr
