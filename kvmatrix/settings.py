"""Every KVCC_* environment variable of the project, its default and what it changes: the one place they
are read. Standard library only, so the in-cell code (suites/) reads its variables here too.

A test (tests/host/test_settings.py) fails when code names a KVCC_* variable this table lacks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One variable: its `default` (None: unset unless the code that needs it sets it), who reads it
    (`host`: kvmatrix/noxfile; `cell`: suites/ inside a cell's environment) and what it changes."""

    default: str | None
    side: str
    meaning: str


SETTINGS: dict[str, Setting] = {
    # --- host: which cells and how a cell runs --------------------------------------------------------------
    "KVCC_PINS": Setting("pins.toml", "host", "the pins file nox reads its cells from"),
    "KVCC_WORKERS": Setting("1", "host", "pytest-xdist workers per registration mode (one already isolates crashes)"),
    "KVCC_MODES_AT_ONCE": Setting("2", "host", "pytest processes of a cell at the same time, all its environments' "
                                  "registration modes and re-runs together (1: one after the other)"),
    "KVCC_TEST_TIMEOUT_S": Setting("900", "host", "seconds one test may run before it is stopped as a hang"),
    "KVCC_MAX_WORKER_RESTART": Setting("16", "host", "xdist worker restarts before the rest of a run is an error"),
    "KVCC_EXTRA_PLUGINS": Setting("", "host", "comma-separated pytest plugins added to each run (fault injection)"),
    "KVCC_RERUNS": Setting("1", "host", "0: do not re-run failing tests in fresh processes (no `flaky` verdicts)"),
    "KVCC_FLAKY_RUNS": Setting("5", "host", "runs in all of a test whose outcome changed on its re-run"),
    "KVCC_CHROMIUM": Setting(None, "host", "the Chromium/Chrome binary the browser tests drive"),
    "KVCC_BYTECODE_STORE": Setting("", "host", "folder of the bytecode shared by environments whose sources are the same "
                                   "files (empty: kv-cache-compat/bytecode under ~/.cache; `off`: none)"),
    "KVCC_PRELOAD": Setting("1", "host", "0: every pytest-xdist worker starts as its own process instead of being "
                            "forked from its environment's preloaded server (kvmatrix.run.forkserver)"),
    "KVCC_CPU_WHEELS": Setting("1", "host", "0: PyPI's default torch wheels even without a GPU (not the CPU index)"),
    # --- cell: read by suites/ inside a cell's environment ---------------------------------------------------
    "KVCC_REGISTRATION": Setting("with", "cell", "`with`: call compat.register() first; `without`: transformers alone"),
    "KVCC_RESULTS": Setting(None, "cell", "where the recorder writes the run's JSON results (unset: not written)"),
    "KVCC_LADDER": Setting("1", "cell", "0: skip the attribution probes after a failure (fresh-process re-runs)"),
    "KVCC_COMPILE_BACKEND": Setting("inductor", "cell", "torch.compile backend of the code-generation compile tests"),
    "KVCC_TRACE_BACKEND": Setting("aot_eager", "cell", "torch.compile backend of the compile tests whose verdicts "
                                  "dynamo and AOTAutograd decide: recompile counts, compiled output vs eager"),
    "KVCC_MEMORY_LIMIT_GB": Setting("16", "cell", "data-segment limit of each test process, so runaway memory raises"),
    "KVCC_FORKSERVER": Setting(None, "cell", "the socket of the environment's fork server, set by the harness for "
                               "a run whose workers it forks (suites.forked_workers)"),
    "KVCC_HANG_DIR": Setting(None, "cell", "the hang guard's folder of per-test start marks (made by the controller)"),
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
