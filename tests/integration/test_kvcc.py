"""The installed `kvcc` console script of this checkout's wheel, where neither torch nor transformers is
installed: `kvcc check --matrix` with a malformed answers file is one line naming it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT as ROOT
from tests.support.kvcc import MALFORMED


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
