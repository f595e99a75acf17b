"""Each cell environment keeps the bytecode its processes compile, so only the first of them compiles torch,
transformers and the clients from source.

A cell starts many interpreters in the same environment (every registration mode, its re-runs, their
xdist workers). Where PYTHONDONTWRITEBYTECODE is set none of them writes `.pyc` files, and uv
installs none, so each one compiled every module it imported: most of a pytest process's start-up
(benchmarks/RESULTS.md, section 8), before any test, and again for every module a test imports
later (dynamo, inductor, sympy, executorch). The pytest processes of a cell therefore write their
bytecode under the environment itself (PYTHONPYCACHEPREFIX), never into the checkout the suites come
from, whatever PYTHONDONTWRITEBYTECODE says: the environments are the harness's own.

A `.pyc` is checked against its source's modification time and size only, so an install that changes an
environment's packages also forgets its bytecode (kvmatrix.run.env.install calls forget_bytecode).
"""

from __future__ import annotations

import shutil
from pathlib import Path

BYTECODE_DIR = "kvcc-bytecode"
"""The folder of an environment (beside its `bin`) that holds its processes' bytecode."""


def bytecode_dir(python: str) -> Path:
    """Where the processes of `python`'s environment keep their bytecode."""
    return Path(python).parent.parent / BYTECODE_DIR


def bytecode_kept(python: str, env: dict[str, str]) -> dict[str, str]:
    """`env` for a process of `python`'s environment that writes and reads its bytecode in bytecode_dir:
    PYTHONPYCACHEPREFIX set there, PYTHONDONTWRITEBYTECODE removed."""
    kept = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**kept, "PYTHONPYCACHEPREFIX": str(bytecode_dir(python))}


def forget_bytecode(python: str) -> None:
    """Remove the bytecode of `python`'s environment (after its packages changed); nothing to do when it
    has none."""
    shutil.rmtree(bytecode_dir(python), ignore_errors=True)
