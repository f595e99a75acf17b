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
    expected = ("check",) if words == ["--help"] else ("--json", "--matrix FILE", "kvcc-verified/2", "--config PATH",
                                                       "--model-type NAME")
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


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read it"),
        ("{", "not valid JSON"),
        ("[1, 2]", "not a model config: no model_type"),
        ('{"hidden_size": 32}', "not a model config: no model_type"),
        ('{"model_type": 3}', "not a model config: no model_type"),
    ],
    ids=["missing", "JSON syntax error", "not an object", "no model_type", "model_type not a name"],
)
def test_kvcc_check_with_a_config_it_cannot_read_is_one_line_naming_it(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    """Said before torch and transformers are looked for, so here, without them, too."""
    config = tmp_path / "config.json"
    if content is not None:
        config.write_text(content)
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {config}: {problem}") and done.stderr.count("\n") == 1, done.stderr


def test_kvcc_check_takes_a_config_or_a_model_type_not_both(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--config", str(tmp_path / "c.json"),
                           "--model-type", "qwen3"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
