"""kvmatrix.run.env.interpreters: a cell's CPython is found on PATH or among pyenv's installs, never a shim
that cannot start."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kvmatrix.run.env.interpreters import find_interpreter

MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"


def _link(folder: Path, name: str, target: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).symlink_to(target)


def test_a_pyenv_install_outside_path_is_found_and_a_failing_shim_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / f"python{MINOR}"
    shim.write_text("#!/bin/sh\necho 'pyenv: version not selected' >&2\nexit 127\n")
    shim.chmod(0o755)
    _link(tmp_path / "pyenv" / "versions" / f"{MINOR}.1" / "bin", f"python{MINOR}", sys.executable)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert find_interpreter(MINOR) == str(tmp_path / "pyenv" / "versions" / f"{MINOR}.1" / "bin" / f"python{MINOR}")


def test_an_interpreter_of_another_minor_is_not_taken_for_the_one_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _link(tmp_path / "bin", "python3.10", sys.executable)  # a liar: this interpreter is not 3.10
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    if MINOR != "3.10":
        assert find_interpreter("3.10") == "3.10"


def test_without_any_install_the_minor_is_handed_on_for_nox_and_uv_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert find_interpreter("3.14") == "3.14"


def test_the_interpreter_on_path_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _link(tmp_path / "bin", f"python{MINOR}", sys.executable)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert find_interpreter(MINOR) == str(tmp_path / "bin" / f"python{MINOR}")
