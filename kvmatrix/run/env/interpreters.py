"""Find a CPython interpreter for a cell's `python` minor ("3.10") on this machine, for nox and uv.

nox and uv look on PATH (and uv in its own managed Pythons, downloading one where it can reach GitHub). A
machine whose other CPythons are pyenv installs has them outside PATH unless pyenv's global list names
them (its `python3.10` shim then exits 127), so they are looked up in pyenv's versions folder too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

_PATCH = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def find_interpreter(minor: str) -> str:
    """The path of a working `python<minor>` (on PATH, else pyenv's newest `<minor>.<patch>` install), or
    `minor` itself when neither has one, for nox/uv to find or install it (or to report it missing)."""
    on_path = shutil.which(f"python{minor}")
    if on_path and _runs(on_path, minor):
        return on_path
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    installs = [(tuple(map(int, found.groups())), path) for path in root.glob(f"{minor}.*")
                if (found := _PATCH.fullmatch(path.name))]
    for _, install in sorted(installs, reverse=True):
        candidate = install / "bin" / f"python{minor}"
        if candidate.exists() and _runs(str(candidate), minor):
            return str(candidate)
    return minor


def interpreter_missing(minor: str) -> bool:
    """Whether no CPython `minor` is on this machine: find_interpreter finds none and uv has none of its own
    (`uv python find`, which never downloads). nox would then skip the cell's session, or fail it where it
    errors on missing interpreters, and the cell would leave no result."""
    if find_interpreter(minor) != minor:
        return False
    try:
        found = subprocess.run(["uv", "python", "find", minor], capture_output=True, text=True, timeout=60,
                               check=False)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return found.returncode != 0


def _runs(python: str, minor: str) -> bool:
    """Whether `python` starts and is CPython `minor` (a pyenv shim for a version not selected fails)."""
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == minor
