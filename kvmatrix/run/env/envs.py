"""One virtual environment per cell, made by uv and reused while it exists (bisect and `latest` runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kvmatrix.run.env.interpreters import find_interpreter


class VenvError(RuntimeError):
    """uv could not create the virtual environment; the message holds uv's reason."""


def ensure_venv(path: Path, python: str) -> str:
    """The absolute interpreter path of the environment at `path`, created with `uv venv --python` on CPython
    `python` (kvmatrix.run.env.interpreters.find_interpreter) unless it already has an interpreter (then it is
    reused as it is)."""
    path = path.resolve()
    interpreter = path / "bin" / "python"
    if not interpreter.exists():
        proc = subprocess.run(["uv", "venv", "--quiet", "--python", find_interpreter(python), str(path)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise VenvError(f"uv venv {path} (python {python}) failed: {' '.join(proc.stderr.split())[:600]}")
    return str(interpreter)
