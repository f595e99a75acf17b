"""A real publish in its own process, for the tests of what two publishes at once or a killed publish do.

`python tests/support/publish_process.py RESULTS REPORTS ROOT CELL_ID...` publishes the cells CELL_ID of the
pins of tests.support.publish from RESULTS into REPORTS with the suites of the checkout ROOT. Options, placed before the
positional arguments:

- `--kill-at-replace K`: SIGKILL this process at its K-th call of os.replace, i.e. a publish killed half-way;
- `--pause-after-read READY GO`: once the previous matrix has been read, create the file READY and wait
  for the file GO before merging (a publish caught between its read and its write).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kvmatrix.publish import publish_run  # noqa: E402
from tests.support.publish import PINS  # noqa: E402


def kill_at_replace(k: int) -> None:
    """Make the k-th os.replace of this process kill it with SIGKILL instead of replacing."""
    real, calls = os.replace, [0]

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls[0] += 1
        if calls[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)

    os.replace = replace  # type: ignore[assignment]


def pause_after_read(ready: Path, go: Path) -> None:
    """Make the publish signal `ready` after it read the previous matrix, then wait for `go`."""
    merge = publish_run.merge_cells

    def paused(*args, **kwargs):  # the same call, later
        ready.touch()
        while not go.exists():
            time.sleep(0.05)
        return merge(*args, **kwargs)

    publish_run.merge_cells = paused  # type: ignore[assignment]


def main() -> None:
    """Parse the arguments, install the requested fault, publish."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-at-replace", type=int)
    parser.add_argument("--pause-after-read", nargs=2, type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("reports", type=Path)
    parser.add_argument("root", type=Path)
    parser.add_argument("cells", nargs="+")
    args = parser.parse_args()
    if args.kill_at_replace:
        kill_at_replace(args.kill_at_replace)
    if args.pause_after_read:
        pause_after_read(*args.pause_after_read)
    publish_run.publish(PINS, PINS.select(args.cells), args.results, args.reports, root=args.root)


if __name__ == "__main__":
    main()
