"""A pytest plugin (`-p kvmatrix.run.process.hang_guard`): a hard per-test timeout behind pytest-timeout's.

pytest-timeout's signal method only interrupts a test between Python bytecodes, and its thread method needs
the GIL: a test stuck inside C code that holds the GIL (`sum(range(10**13))`, a deadlocked extension)
escapes both, and used to take every verdict of its run with it. This plugin arms faulthandler's watchdog,
a C thread that needs no GIL, for each test, a little after pytest-timeout's own deadline: it writes the
stacks to a file kept for that test and ends the test's process. pytest-xdist then reports the worker as
crashed and starts a new one, so the rest of the run still reports; the recorder asks `hang_report` and
records the test as hung, naming where it was stuck.

The files live in KVCC_HANG_DIR, a temporary folder the controller (the process that starts the workers)
makes when the variable is unset, beside the results file (KVCC_RESULTS) when there is one, and removes at
the end.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvmatrix.record.paths import short_path
from kvmatrix.settings import setting

HANG_DIR = "KVCC_HANG_DIR"
GRACE_S = 5.0
"""How long after pytest-timeout's deadline the hard timeout fires (plus a tenth of the timeout), so that a
hang pytest-timeout can interrupt is reported by it, with its worker kept."""
_MADE = pytest.StashKey[str]()
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<function>\S+)')


def hard_timeout(item: pytest.Item) -> float | None:
    """Seconds after which the guard stops `item`'s process: pytest-timeout's timeout (the item's
    `timeout` marker, else `--timeout`) plus GRACE_S and a tenth; None when the test has no timeout."""
    marker = item.get_closest_marker("timeout")
    timeout = marker.args[0] if marker is not None and marker.args else item.config.getoption("timeout", None)
    if not timeout or float(timeout) <= 0:
        return None
    return float(timeout) * 1.1 + GRACE_S


def stack_file(nodeid: str) -> Path | None:
    """Where the guard writes the stacks of test `nodeid` when it stops it; None outside a guarded run."""
    folder = setting(HANG_DIR)
    if not folder:
        return None
    return Path(folder) / f"{hashlib.sha256(nodeid.encode()).hexdigest()[:32]}.txt"


def hang_report(nodeid: str) -> str | None:
    """One line saying that the guard stopped test `nodeid` and where it was stuck (its innermost frame
    in the thread that was running the test's file); None when the guard did not stop it."""
    path = stack_file(nodeid)
    text = path.read_text(errors="replace") if path is not None and path.exists() else ""
    if not text.startswith("Timeout ("):
        return None
    test_file = nodeid.split("::")[0]
    stuck = None
    for block in text.split("\n\n"):
        frames = [found for line in block.splitlines() if (found := _FRAME.match(line))]
        if frames and any(frame["path"].endswith(test_file) for frame in frames):
            stuck = frames[0]
            break
    where = f" in {short_path(stuck['path'])}:{stuck['line']} ({stuck['function']})" if stuck else ""
    hours, minutes, seconds = text.split(")", 1)[0].removeprefix("Timeout (").split(":")  # faulthandler's
    after = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return f"stuck outside Python{where}; its process was stopped after {after:g}s by the hard timeout"


def pytest_configure(config: pytest.Config) -> None:
    """In the controller (or a plain run), make the folder for the stack files unless one is named."""
    if not hasattr(config, "workerinput") and not setting(HANG_DIR):
        results = setting("KVCC_RESULTS")  # beside the results: left in the cell's folder if killed
        beside = str(Path(results).parent) if results and Path(results).parent.is_dir() else None
        config.stash[_MADE] = os.environ[HANG_DIR] = tempfile.mkdtemp(prefix="kvcc-hangs-", dir=beside)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the folder this process made."""
    made = config.stash.get(_MADE, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        del os.environ[HANG_DIR]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Arm the watchdog for the whole test (setup, call, teardown); disarm it and drop the file after."""
    deadline, path = hard_timeout(item), stack_file(item.nodeid)
    if deadline is None or path is None:
        yield
        return
    with path.open("w") as stacks:
        faulthandler.dump_traceback_later(deadline, exit=True, file=stacks)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
    path.unlink(missing_ok=True)
