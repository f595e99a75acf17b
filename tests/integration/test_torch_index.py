"""kvmatrix.run.env.torch_index with real uv: the backend this project passes takes only PyTorch's packages from
the CPU index (the choice of index itself: tests/kvmatrix/run/env/test_torch_index.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvmatrix.run.env.install import uv_install_command
from kvmatrix.run.env.torch_index import CPU_BACKEND


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
def test_uv_takes_only_pytorch_packages_from_the_cpu_index(tmp_path: Path) -> None:
    """uv accepts the backend this project passes, and resolves a non-PyTorch package from PyPI alone
    (it succeeds here whether or not download.pytorch.org can be reached)."""
    subprocess.run(["uv", "venv", "-q", str(tmp_path / "venv")], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    proc = subprocess.run([*uv_install_command(python, ["six==1.17.0"], CPU_BACKEND), "--dry-run"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "six==1.17.0" in proc.stderr
