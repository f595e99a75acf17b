"""`kvcc --help` and `kvcc check --help` answer where torch and transformers are not installed (the host's
test environment has neither), and describe every option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kvcc import MALFORMED

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
