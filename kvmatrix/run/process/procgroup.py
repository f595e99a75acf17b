"""Run a command so that none of its processes outlives it: in a process group of its own, killed whole
when the command ends, times out or its caller is interrupted.

pytest-xdist's workers are children of the pytest process; killing only that process (what
`subprocess.run(timeout=...)` does) leaves a hung worker running after the cell is done.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import IO


def run_contained(command: list[str], *, cwd: Path, env: dict[str, str], out: IO[str],
                  timeout_s: float) -> int | str:
    """Run `command` (stdout and stderr to `out`) in a new process group; its exit status, or
    `"timeout after <timeout_s>s"`. Every process left in the group is killed before returning."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout_s}s"
    finally:
        kill_group(process.pid)
        process.wait()


def kill_group(group: int) -> None:
    """SIGKILL every process of process group `group`; nothing happens when none is left."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
