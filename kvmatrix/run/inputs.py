"""A cell's inputs and their key: everything that decides what the cell records, so that a cell whose key is
unchanged need not run again (kvmatrix.run.reuse; docs/incremental.md).

The parts: `resolved`, the set `uv pip compile` resolves for exactly what the cell installs (its
requirements, torch's index, PIP_FIND_LINKS, a replay's constraints, the cell's interpreter, its index
snapshot), found without
creating the cell's environment; `clients`, the same for each client's environment (kvmatrix.run.clients),
or the resolver's reason where the client cannot be installed with the cell's pins; `python`, the
interpreter's full version; `code`, a sha256 over the files
that run in the cell or build its record; `settings`, the KVCC_* values that change what a cell records and
the intra-op threads of its processes (OMP_NUM_THREADS, kvmatrix.run.process.threads);
`selection`, the tests a partial run chose (null for all). The key is the sha256 of their canonical JSON.
The snapshot itself is no part: moving it changes the key of exactly the cells whose resolved sets move.
Whatever cannot be found (an index that does not answer, an interpreter that does not start) makes the
inputs unknown (None): such a cell is always run.

`python -m kvmatrix.run.inputs_cli key CELL_ID` prints the key of one pinned cell (the workflow's cache key).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kvmatrix import REPO_ROOT
from kvmatrix.record.verdicts import NOT_INSTALLABLE
from kvmatrix.run.env.install import diagnose
from kvmatrix.run.env.snapshot import snapshot_args
from kvmatrix.run.env.torch_index import torch_backend_args
from kvmatrix.run.process.threads import THREADS_VARIABLE, process_threads
from kvmatrix.settings import setting

CODE_PATHS = (
    "suites", "compat", "kvmatrix/run", "kvmatrix/record", "kvmatrix/__init__.py", "kvmatrix/settings.py",
    "kvmatrix/files.py", "kvmatrix/plan/pins.py", "kvmatrix/run/env/index_check.py", "kvmatrix/plan/releases.py",
    "pyproject.toml",
)
"""What runs in a cell or builds its record, relative to the checkout: the suites and the library they test,
the harness (run/, record/ and the modules they import) and pyproject.toml, whose pytest options
(`--strict-markers`, `xfail_strict`) apply to the suites' runs."""
IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".hypothesis"})
NOT_IN_A_CELL = frozenset({"compat/verified.json", "compat/check.py"})
"""Files under CODE_PATHS that no cell reads: the answers `kvcc check` bundles, which the publish writes from
the published matrix (in the digest, every publish that moved a verdict would make every cell run once
more), and `kvcc check` itself, a user's command that no suite imports."""
RECORDED_SETTINGS = (
    "KVCC_WORKERS", "KVCC_MODES_AT_ONCE", "KVCC_TEST_TIMEOUT_S", "KVCC_MAX_WORKER_RESTART", "KVCC_EXTRA_PLUGINS",
    "KVCC_RERUNS", "KVCC_FLAKY_RUNS", "KVCC_CPU_WHEELS", "KVCC_COMPILE_BACKEND", "KVCC_TRACE_BACKEND",
    "KVCC_MEMORY_LIMIT_GB", "KVCC_PRELOAD",
)
"""The KVCC_* variables whose values change what a cell records (verdicts, re-runs, limits, backends)."""
UNRECORDED_SETTINGS = {
    "KVCC_PINS": "chooses which cells run, not what one records",
    "KVCC_BYTECODE_STORE": "where compiled bytecode is shared; CPython checks it against each source",
    "KVCC_CHROMIUM": "the browser tests' binary; never used in a cell",
    "KVCC_REGISTRATION": "set by the harness for each mode",
    "KVCC_RESULTS": "set by the harness for each run",
    "KVCC_LADDER": "set by the harness for the re-runs",
    "KVCC_HANG_DIR": "set by the harness for each run",
    "KVCC_FORKSERVER": "set by the harness for each run",
    "KVCC_PROBE_OUTCOMES": "set by the harness for each environment's first runs",
}
"""The others, and why they are not inputs (tests/kvmatrix/run/test_inputs.py checks that every variable is in one)."""
COMPILE_TIMEOUT_S = 300


def code_digest(root: Path) -> str:
    """sha256 over the files of CODE_PATHS under `root`: each file's relative path and bytes, in sorted path
    order; caches (IGNORED_DIRS), compiled files and what no cell reads (NOT_IN_A_CELL) are left out."""
    files: list[Path] = []
    for name in CODE_PATHS:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [found for found in path.rglob("*") if found.is_file() and found.suffix != ".pyc"
                      and not IGNORED_DIRS & set(found.relative_to(root).parts)
                      and found.relative_to(root).as_posix() not in NOT_IN_A_CELL]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda found: found.relative_to(root).as_posix()):
        relative = path.relative_to(root).as_posix().encode()
        content = path.read_bytes()
        digest.update(b"%d:%s%d:" % (len(relative), relative, len(content)))
        digest.update(content)
    return digest.hexdigest()


def recorded_settings(env: Mapping[str, str]) -> dict[str, str | None]:
    """The value (or default) of each of RECORDED_SETTINGS in `env`, and the intra-op threads each pytest
    process gets (kvmatrix.run.process.threads)."""
    return {**{name: setting(name, env) for name in RECORDED_SETTINGS}, THREADS_VARIABLE: process_threads(env)}


def compile_command(python: str, env: Mapping[str, str], constraints: Path | None = None,
                    snapshot: str | None = None) -> list[str]:
    """`uv pip compile` as kvmatrix.run.env.install installs into `python`: the same torch index, find-links
    (PIP_FIND_LINKS in `env`), constraints and index snapshot; the requirements come on stdin."""
    command = ["uv", "pip", "compile", "-", "--python", python, "--no-header", "--no-annotate", "--quiet",
               *torch_backend_args(), *snapshot_args(snapshot)]
    for link in env.get("PIP_FIND_LINKS", "").split():
        command += ["--find-links", link]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    return command


def _compile(wanted: Sequence[str], python: str, env: Mapping[str, str], constraints: Path | None,
             snapshot: str | None) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(compile_command(python, env, constraints, snapshot), input="\n".join(wanted),
                              capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, env=dict(env), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _lines(output: str) -> list[str]:
    return sorted(line.strip() for line in output.splitlines() if line.strip() and not line.startswith("#"))


def resolve(wanted: Sequence[str], python: str, env: Mapping[str, str],
            constraints: Path | None = None, snapshot: str | None = None) -> list[str] | None:
    """The sorted `name==version` lines uv resolves for the requirements `wanted` on `python`, as of the
    index `snapshot` (None: now); None when it cannot say (an index that does not answer, pins that do not
    resolve, no uv)."""
    done = _compile(wanted, python, env, constraints, snapshot)
    return _lines(done.stdout) if done is not None and done.returncode == 0 else None


def resolve_client(wanted: Sequence[str], python: str, env: Mapping[str, str],
                   constraints: Path | None = None, snapshot: str | None = None) -> list[str] | str | None:
    """A client environment's part: its resolved lines as `resolve` finds them, or
    `not-installable: <uv's reason>` when its pins cannot be resolved together (the client's record entry
    then says the same); None when it cannot say (an index that does not answer, no uv)."""
    done = _compile(wanted, python, env, constraints, snapshot)
    if done is None:
        return None
    if done.returncode == 0:
        return _lines(done.stdout)
    status, reason = diagnose(done.stdout + done.stderr)
    return f"{status}: {reason}" if status == NOT_INSTALLABLE else None


def python_version(python: str) -> str | None:
    """The full version of the interpreter `python` (`3.11.9`, `3.13.0rc1`); None when it does not start."""
    try:
        done = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def inputs_key(parts: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of `parts`."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cell_inputs(wanted: Sequence[str], python: str, root: Path = REPO_ROOT, env: Mapping[str, str] | None = None,
                constraints: Path | None = None, selection: Sequence[str] | None = None,
                clients: Mapping[str, Sequence[str]] | None = None, snapshot: str | None = None) -> dict[str, Any] | None:
    """`{"key": ..., "parts": {...}}` of a cell that installs the requirements `wanted`
    (kvmatrix.run.cell.requirements) and runs with `python` from the checkout `root`, its `clients` (name ->
    the client environment's requirements, kvmatrix.run.clients.client_requirements) resolved too, all as of
    the index `snapshot` (see the module docstring); None when a resolved set or the interpreter's version
    cannot be found."""
    env = os.environ if env is None else env
    version = python_version(python)
    resolved = resolve(wanted, python, env, constraints, snapshot) if version else None
    if version is None or resolved is None:
        return None
    wanted_by = dict(clients or {})
    with ThreadPoolExecutor(max(1, len(wanted_by))) as pool:  # each waits on the index: resolve them at once
        found = pool.map(lambda needs: resolve_client(needs, python, env, constraints, snapshot), wanted_by.values())
        client_sets = dict(zip(wanted_by, found, strict=True))
    if any(found is None for found in client_sets.values()):
        return None
    return inputs_from(resolved, version, root, env, selection, client_sets)


def inputs_from(resolved: Sequence[str], version: str, root: Path, env: Mapping[str, str],
                selection: Sequence[str] | None = None,
                clients: Mapping[str, Sequence[str] | str] | None = None) -> dict[str, Any]:
    """The inputs of a cell whose installed set is `resolved`, and whose client environments' are `clients`
    (name -> resolved lines, or the reason none resolves), on Python `version`, run from the checkout `root`
    with the variables `env` (the parts `cell_inputs` found, and the key of them all)."""
    parts = {"resolved": sorted(resolved),
             "clients": {name: found if isinstance(found, str) else sorted(found)
                         for name, found in sorted((clients or {}).items())},
             "python": version, "code": code_digest(root),
             "settings": recorded_settings(env), "selection": sorted(selection) if selection else None}
    return {"key": inputs_key(parts), "parts": parts}


def changed_parts(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """The names of the parts that differ between two inputs (every part where `before` has none)."""
    old = (before or {}).get("parts") or {}
    return [name for name, value in after["parts"].items() if old.get(name) != value]
