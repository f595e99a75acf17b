"""The published report set as one unit: the lock that serialises publishes on a reports folder, and the
switch that replaces every file of the set or none of them.

A publish stages every file of the new set in `<reports>/.staging/`, fsyncs them, then writes the journal
`<reports>/.staging/JOURNAL.json` (target of each staged file, files to delete) as the commit marker and
only then moves the staged files over the published ones. A publish killed before the journal is complete
leaves the published set untouched; one killed after it leaves a journal that the next publish completes
(`recover`) before it reads anything. A disk that fills up or a folder that cannot be written stops the
publish with one line naming the folder, the previous set intact.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kvmatrix.files import lock_within, write_text_atomic

LOCK_NAME = ".publish.lock"
STAGING_NAME = ".staging"
JOURNAL_NAME = "JOURNAL.json"
LOCK_TIMEOUT_S = 600.0
"""How long a publish waits for another publish of the same reports folder before it gives up."""
LOCK_POLL_S = 0.2


class ReportsBusy(RuntimeError):
    """Another publish held the reports folder's lock for longer than the wait allowed."""


class ReportsNotWritten(OSError):
    """The report set could not be written (full disk, no permission, read-only folder): staging failed and
    nothing changed, or moving the staged files failed and the next publish completes the switch."""

    def __str__(self) -> str:
        """The one line naming the folder, without OSError's `[Errno N]` prefix."""
        return str(self.strerror)


@contextmanager
def reports_lock(reports_dir: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive flock on `reports_dir/.publish.lock` for the block: a second publish of the same
    folder waits (saying so on stderr) up to `timeout_s` seconds, then raises ReportsBusy."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(reports_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not lock_within(fd, timeout_s, LOCK_POLL_S, waiting=lambda: print(
                f"waiting for another publish of {reports_dir} to finish", file=sys.stderr)):
            raise ReportsBusy(f"another publish has held {reports_dir / LOCK_NAME} for over {timeout_s:g} s; "
                              "nothing was written (is a publish stuck? retry when it ends)")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def recover(reports_dir: Path) -> None:
    """Finish or undo what an interrupted publish left in `reports_dir`: a staging folder with a journal is
    completed (its files moved into place, its deletions done), one without is discarded, and stray
    `.*.tmp` files of interrupted atomic writes are removed. Call it holding `reports_lock`."""
    staging = reports_dir / STAGING_NAME
    journal = _read_journal(staging / JOURNAL_NAME)
    if journal is not None:
        _apply(staging, journal)
    if staging.exists():
        shutil.rmtree(staging)
    for stray in reports_dir.rglob(".*.tmp"):
        if not _in_nested_set(stray, reports_dir):
            stray.unlink(missing_ok=True)


def _in_nested_set(path: Path, reports_dir: Path) -> bool:
    """Whether `path` belongs to another report set inside `reports_dir` (e.g. reports/latest), one with a
    lock of its own that its own publishes clean up."""
    return any((folder / LOCK_NAME).exists() for folder in path.parents if reports_dir in folder.parents)


def switch(reports_dir: Path, texts: dict[Path, str], delete: list[Path]) -> None:
    """Replace the report set under `reports_dir` as a whole: write every `texts` file (a target may lie
    outside the folder on the same file system, e.g. the README), then delete `delete`. Staging failures
    raise ReportsNotWritten with the published set intact. Call it holding `reports_lock`, after `recover`."""
    staging = reports_dir / STAGING_NAME
    entries = []
    try:
        staging.mkdir()
        for number, (target, text) in enumerate(texts.items()):
            staged = staging / f"{number:05d}"
            staged.write_text(text, encoding="utf-8")
            _fsync_file(staged, target)
            entries.append([staged.name, str(target.resolve())])
        _fsync_folder(staging)
        journal = {"files": entries, "delete": [str(path.resolve()) for path in delete]}
        write_text_atomic(staging / JOURNAL_NAME, json.dumps(journal))
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReportsNotWritten(exc.errno, f"cannot write the reports in {reports_dir}: {_reason(exc)}; "
                                           "the published reports are unchanged") from None
    try:
        _apply(staging, journal)
    except OSError as exc:
        raise ReportsNotWritten(exc.errno, f"cannot finish replacing the reports in {reports_dir}: "
                                           f"{_reason(exc)}; the next publish completes it") from None
    shutil.rmtree(staging)


def _reason(exc: OSError) -> str:
    """What went wrong, without the path (the message names the folder)."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def _fsync_file(path: Path, target: Path) -> None:
    """fsync `path`, giving it the mode of `target` when that exists (0644 otherwise)."""
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_journal(path: Path) -> dict[str, list] | None:
    """The journal at `path`; None when there is none (it is written atomically, so it is whole or absent)."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _apply(staging: Path, journal: dict[str, list]) -> None:
    """Move each staged file of `journal` over its target (those already moved are skipped), then delete its
    files to delete; idempotent, so a publish killed half-way through is completed by running it again."""
    for name, target in journal["files"]:
        staged = staging / name
        if staged.exists():
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
    for path in journal["delete"]:
        Path(path).unlink(missing_ok=True)
    for folder in {Path(target).parent for _, target in journal["files"]}:
        _fsync_folder(folder)


def main(argv: list[str] | None = None) -> int:
    """`recover REPORTS...`: finish or undo an interrupted publish in each folder, under its lock (CI runs it
    before it commits, so a publish killed after its commit point never leaves a half-moved set)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kvmatrix.publish.report_set", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("recover", help="complete or discard what an interrupted publish left")
    command.add_argument("reports", nargs="+", type=Path, help="report folders, e.g. reports reports/latest")
    args = parser.parse_args(argv)
    for folder in args.reports:
        if folder.is_dir():
            try:
                with reports_lock(folder):
                    recover(folder)
            except (ReportsBusy, OSError) as exc:  # a folder it cannot write: one line, not a traceback
                print(f"error: cannot recover {folder}: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
