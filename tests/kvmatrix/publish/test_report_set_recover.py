"""`python -m kvmatrix.publish.report_set recover` on a folder it cannot write says so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT


def recover_command(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kvmatrix.publish.report_set", "recover", str(folder)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess, *expected: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert all(text in proc.stderr for text in expected), proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_recover_on_a_read_only_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir(mode=0o555)
    one_line(recover_command(folder), f"error: cannot recover {folder}: ", "Permission denied")


def test_recover_where_the_lock_cannot_be_opened_is_one_line_naming_it(tmp_path: Path) -> None:
    """The same failure for root, which read-only permissions do not stop: the lock file cannot be opened."""
    folder = tmp_path / "reports"
    (folder / ".publish.lock").mkdir(parents=True)
    one_line(recover_command(folder), f"error: cannot recover {folder}: ", "Is a directory")
