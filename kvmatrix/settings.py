"""Every KVCC_* environment variable of the project, its default and what it changes: the one place they
are read. Standard library only, so the in-cell code (suites/) reads its variables here too.

A test (tests/kvmatrix/test_settings.py) fails when code names a KVCC_* variable this table lacks. Each variable a
user sets has a check of its type and range; `setting_problems` gives one line per bad value, which the
noxfile and the command-line entry points print instead of failing deep inside a run.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

Check = Callable[[str], str | None]
"""Why a value is not acceptable (the phrase after `<variable>=<value>: `), or None when it is."""


def integer(low: int, high: int) -> Check:
    """A check for a whole number from `low` to `high`."""
    def check(value: str) -> str | None:
        if re.fullmatch(r"\d{1,9}", value) and low <= int(value) <= high:
            return None
        return f"must be a whole number from {low} to {high}"
    return check


def choice(*allowed: str) -> Check:
    """A check for one of `allowed`."""
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be {' or '.join(map(repr, allowed))}"
    return check


def gigabytes(value: str) -> str | None:
    """Empty (no limit) or a positive, finite number of gigabytes."""
    try:
        number = float(value) if value else 1.0
    except ValueError:
        number = math.nan
    return None if math.isfinite(number) and number > 0 else "must be a positive number of gigabytes, or empty"


PLUGIN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def plugins(value: str) -> str | None:
    """Comma-separated dotted module names (empty: none)."""
    if all(PLUGIN.fullmatch(name) for name in value.split(",") if name):
        return None
    return "must be comma-separated module names like tests.faults.crash_plugin"


def named(value: str) -> str | None:
    """A file name, not empty (an empty one would name the current folder)."""
    return None if value.strip() else "must name a file"


def folder(value: str) -> str | None:
    """A folder that exists."""
    return None if value and "\0" not in value and Path(value).is_dir() else "must name an existing folder"


def store(value: str) -> str | None:
    """Empty, `off`, or a folder that exists or can be made (no file on its way)."""
    if value in ("", "off"):
        return None
    if "\0" in value:
        return "must be empty, `off` or a folder"
    path = Path(value).absolute()
    existing = next(parent for parent in (path, *path.parents) if parent.exists())
    return None if existing.is_dir() else f"must be empty, `off` or a folder; {existing} is not a folder"


@dataclass(frozen=True)
class Setting:
    """One variable: its `default` (None: unset unless the code that needs it sets it), who reads it
    (`host`: kvmatrix/noxfile; `cell`: suites/ inside a cell's environment) and what it changes."""

    default: str | None
    side: str
    meaning: str
    check: Check | None = None
    """Why a value set in the environment is not acceptable (None: no check, e.g. one the harness sets)."""


SETTINGS: dict[str, Setting] = {
    # --- host: which cells and how a cell runs --------------------------------------------------------------
    "KVCC_PINS": Setting("pins.toml", "host", "the pins file nox reads its cells from", named),
    "KVCC_WORKERS": Setting("1", "host", "pytest-xdist workers per registration mode (one already isolates crashes)",
                            integer(1, 256)),
    "KVCC_MODES_AT_ONCE": Setting("2", "host", "pytest processes of a cell at the same time, all its environments' "
                                  "registration modes and re-runs together (1: one after the other)", integer(1, 64)),
    "KVCC_TEST_TIMEOUT_S": Setting("900", "host", "seconds one test may run before it is stopped as a hang",
                                   integer(1, 86400)),
    "KVCC_MAX_WORKER_RESTART": Setting("16", "host", "xdist worker restarts before the rest of a run is an error",
                                       integer(0, 10000)),
    "KVCC_EXTRA_PLUGINS": Setting("", "host", "comma-separated pytest plugins added to each run (fault injection)",
                                  plugins),
    "KVCC_RERUNS": Setting("1", "host", "0: do not re-run failing tests in fresh processes (no `flaky` verdicts)",
                           choice("0", "1")),
    "KVCC_FLAKY_RUNS": Setting("5", "host", "runs in all of a test whose outcome changed on its re-run",
                               integer(2, 100)),
    "KVCC_CHROMIUM": Setting(None, "host", "the Chromium/Chrome binary the browser tests drive"),
    "KVCC_BYTECODE_STORE": Setting("", "host", "folder of the bytecode shared by environments whose sources are the same "
                                   "files (empty: kv-cache-compat/bytecode under ~/.cache; `off`: none)", store),
    "KVCC_PRELOAD": Setting("1", "host", "0: every pytest-xdist worker starts as its own process instead of being "
                            "forked from its environment's preloaded server (kvmatrix.run.process.fork_client)",
                            choice("0", "1")),
    "KVCC_CPU_WHEELS": Setting("1", "host", "0: PyPI's default torch wheels even without a GPU (not the CPU index)",
                               choice("0", "1")),
    # --- cell: read by suites/ inside a cell's environment ---------------------------------------------------
    "KVCC_REGISTRATION": Setting("with", "cell", "`with`: call compat.register() first; `without`: transformers alone"),
    "KVCC_RESULTS": Setting(None, "cell", "where the recorder writes the run's JSON results (unset: not written)"),
    "KVCC_LADDER": Setting("1", "cell", "0: skip the attribution probes after a failure (fresh-process re-runs)"),
    "KVCC_COMPILE_BACKEND": Setting("inductor", "cell", "torch.compile backend of the code-generation compile tests"),
    "KVCC_TRACE_BACKEND": Setting("aot_eager", "cell", "torch.compile backend of the compile tests whose verdicts "
                                  "dynamo and AOTAutograd decide: recompile counts, compiled output vs eager"),
    "KVCC_MEMORY_LIMIT_GB": Setting("16", "cell", "data-segment limit of each test process, so runaway memory raises",
                                   gigabytes),
    "KVCC_FORKSERVER": Setting(None, "cell", "the socket of the environment's fork server, set by the harness for "
                               "a run whose workers it forks (kvmatrix.run.process.forked_workers)"),
    "KVCC_HANG_DIR": Setting(None, "cell", "the hang guard's folder of per-test start marks (made by the controller)",
                            folder),
    "KVCC_PROBE_OUTCOMES": Setting(None, "cell", "the folder where the runs of one environment share the outcomes of "
                                   "no-cache probes whose arguments are plain values (set by the harness)"),
}


def setting(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of KVCC_* variable `name` in `env` (default: this process's environment), else its default.
    A name the table lacks raises KeyError, so a typo cannot silently read nothing."""
    default = SETTINGS[name].default
    return (os.environ if env is None else env).get(name, default)


def int_setting(name: str, env: Mapping[str, str] | None = None) -> int:
    """`setting(name, env)` as an integer; a value that is not one raises ValueError naming the variable."""
    value = setting(name, env)
    try:
        return int(value or "")
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def setting_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """One line for each KVCC_* variable set in `env` (default: this process's environment) to a value its
    check refuses, e.g. `KVCC_WORKERS='0': must be a whole number from 1 to 256`; [] when all are acceptable."""
    env = os.environ if env is None else env
    return [f"{name}={env[name]!r}: {problem}" for name, each in SETTINGS.items()
            if name in env and each.check is not None and (problem := each.check(env[name]))]


def report_bad_settings() -> bool:
    """Print `error: <problem>` to stderr for each of this process's `setting_problems`; whether there was one
    (an entry point then exits with status 2 before it starts anything)."""
    problems = setting_problems()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return bool(problems)
