"""Time the creation of one cell's environment: the project's uv path against `python -m venv` + `pip install`.

uv path: `kvmatrix.run.env.envs.ensure_venv` (`uv venv`) then `kvmatrix.install.install` (`uv pip install`, with
PIP_FIND_LINKS passed on as `--find-links`), exactly what a cell runs; nox's own `uv venv` is the same
command. Cold = an empty UV_CACHE_DIR of our own; warm = uv's normal cache; warm offline = that cache with
UV_OFFLINE=1 (no index requests), to show how much of the warm time is the network.
pip path: `python -m venv` (which seeds pip with ensurepip) then that pip installing the same requirement
strings from the same sources as uv: PyPI plus PIP_FIND_LINKS, with pip's configuration files ignored
(`PIP_CONFIG_FILE=/dev/null`; PIP_* variables still apply). Cold = `--no-cache-dir`; warm = a pip cache of
our own, filled by one run first (its time is kept as `pip_filling_cache`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.analysis import summarize
from kvmatrix.record.verdicts import RAN
from kvmatrix.run.env.envs import ensure_venv
from kvmatrix.run.env.install import install


class BenchError(RuntimeError):
    """A measured step failed, so its time would mean nothing; the message says which and why."""


@contextmanager
def scoped_env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of a block (child processes inherit them)."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tree_size(path: Path) -> dict[str, int]:
    """Regular files under `path`, how many are bytecode (`.pyc`), and their apparent size in bytes (a
    hard-linked file counts in full)."""
    files = pyc = size = 0
    for root, _, names in os.walk(path):
        for name in names:
            target = Path(root, name)
            if not target.is_symlink():
                files += 1
                pyc += name.endswith(".pyc")
                size += target.stat().st_size
    return {"files": files, "pyc": pyc, "bytes": size}


def uv_env(dest: Path, python: str, requirements: list[str]) -> dict[str, Any]:
    """Create an environment the project's way; seconds for `uv venv`, the install, and both."""
    start = time.monotonic()
    interpreter = ensure_venv(dest, python)
    made = time.monotonic()
    outcome = install(interpreter, requirements)
    done = time.monotonic()
    if outcome.status != RAN:
        raise BenchError(f"uv install into {dest} ended {outcome.status}: {outcome.reason}")
    return {"venv_s": round(made - start, 2), "install_s": round(done - made, 2), "total_s": round(done - start, 2),
            "attempts": outcome.attempts}


def pip_env(dest: Path, requirements: list[str], cache_dir: Path | None) -> dict[str, Any]:
    """Create an environment with `python -m venv` + `pip install`; `cache_dir` None = `--no-cache-dir`."""
    cache = ["--no-cache-dir"] if cache_dir is None else ["--cache-dir", str(cache_dir)]
    start = time.monotonic()
    _check([sys.executable, "-m", "venv", str(dest)], "python -m venv")
    made = time.monotonic()
    _check([str(dest / "bin" / "python"), "-m", "pip", "install", "--quiet", *cache, *requirements], "pip install")
    done = time.monotonic()
    return {"venv_s": round(made - start, 2), "install_s": round(done - made, 2), "total_s": round(done - start, 2)}


def _check(command: list[str], what: str) -> None:
    proc = subprocess.run(command, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")


def _tool_version(command: list[str]) -> str:
    """`uv 0.13.9`, `pip 23.2.1`: the first two words a `--version` prints."""
    proc = subprocess.run(command, check=False, capture_output=True, text=True)
    return " ".join((proc.stdout or proc.stderr).split()[:2]) if proc.returncode == 0 else "unknown"


def _series(make: Callable[[Path], dict[str, Any]], scratch: Path, label: str, repeats: int,
            inspect: Callable[[Path], dict[str, Any]] | None = None) -> dict[str, Any]:
    """`repeats` fresh environments made by `make(dest)`, each removed after it was timed; `inspect(dest)`
    (untimed) describes the last one before it goes."""
    runs: list[dict[str, Any]] = []
    described: dict[str, Any] = {}
    for index in range(repeats):
        dest = scratch / f"{label}-{index}"
        runs.append(make(dest))
        if inspect is not None and index == repeats - 1:
            described = inspect(dest)
        shutil.rmtree(dest)
    stats = {part: summarize(run[part] for run in runs) for part in ("total_s", "venv_s", "install_s")}
    return {**stats, **described}


def _lines(command: list[str]) -> list[str]:
    return subprocess.run(command, check=False, capture_output=True, text=True).stdout.splitlines()


def _describe_uv_env(dest: Path) -> dict[str, Any]:
    return {"env": tree_size(dest), "freeze": _lines(["uv", "pip", "freeze", "--python", str(dest / "bin" / "python")])}


def _describe_pip_env(dest: Path) -> dict[str, Any]:
    python = str(dest / "bin" / "python")
    return {"env": tree_size(dest), "freeze": _lines([python, "-m", "pip", "freeze", "--all"]),
            "pip_version": _tool_version([python, "-m", "pip", "--version"])}


def link_tree(source: Path, dest: Path) -> dict[str, Any]:
    """Hard-link every file of the environment `source` into a new tree `dest` (`cp -al`): the least a warm
    environment can cost on this filesystem, the files' directory entries without resolving or reading them."""
    start = time.monotonic()
    _check(["cp", "-al", str(source), str(dest)], "cp -al")
    return {"total_s": round(time.monotonic() - start, 3)}


def link_floor(python: str, requirements: list[str], scratch: Path, repeats: int) -> dict[str, Any]:
    """The physical floor of a warm environment: the median of `repeats` hard-linked copies (link_tree) of one
    finished uv environment of `requirements` (made untimed), and how many files each copy linked."""
    source = scratch / "floor-source"
    uv_env(source, python, requirements)
    copies = []
    for index in range(repeats):
        copies.append(link_tree(source, scratch / f"floor-{index}")["total_s"])
        shutil.rmtree(scratch / f"floor-{index}")
    files = tree_size(source)["files"]
    shutil.rmtree(source)
    return {"total_s": summarize(copies), "files": files, "command": "cp -al"}


def measure_envs(python: str, requirements: list[str], scratch: Path, warm_repeats: int) -> dict[str, Any]:
    """Every environment variant in one run, in this order: uv cold, uv warm x `warm_repeats`, the same offline
    (`UV_OFFLINE=1`: how much of it is index requests), pip cold, pip filling its (empty) cache, pip warm x
    `warm_repeats`; with the size of a finished environment of each kind (the physical floor of a warm one is
    `link_floor`, a phase of its own)."""
    def uv(dest: Path) -> dict[str, Any]:
        return uv_env(dest, python, requirements)

    results: dict[str, Any] = {"requirements": requirements, "uv_version": _tool_version(["uv", "--version"])}
    with tempfile.TemporaryDirectory(dir=scratch, prefix="uv-cache-") as empty, scoped_env(UV_CACHE_DIR=empty):
        results["uv_cold"] = _series(uv, scratch, "uv-cold", 1, lambda _: {"cache_after": tree_size(Path(empty))})
    results["uv_warm"] = _series(uv, scratch, "uv-warm", warm_repeats, _describe_uv_env)
    with scoped_env(UV_OFFLINE="1"):
        results["uv_warm_offline"] = _series(uv, scratch, "uv-offline", warm_repeats)
    pip_cache = scratch / "pip-cache"
    with scoped_env(PIP_CONFIG_FILE=os.devnull):  # PyPI + PIP_FIND_LINKS, the sources uv uses
        results["pip_cold"] = _series(lambda d: pip_env(d, requirements, None), scratch, "pip-cold", 1)
        results["pip_filling_cache"] = _series(lambda d: pip_env(d, requirements, pip_cache), scratch,
                                               "pip-fill", 1)
        results["pip_warm"] = _series(lambda d: pip_env(d, requirements, pip_cache), scratch, "pip-warm",
                                      warm_repeats, _describe_pip_env)
    shutil.rmtree(pip_cache, ignore_errors=True)
    return results
