"""The published report set as one unit: the lock that serialises publishes on a reports folder, and the
switch that replaces every file of the set or none of them.

A publish stages every file of the new set in `<reports>/.staging/`, fsyncs them, then writes the journal
`<reports>/.staging/JOURNAL.json` (target of each staged file, files to delete) as the commit marker and
only then moves the staged files over the published ones. A publish killed before the journal is complete
leaves the published set untouched; one killed after it leaves a journal that the next publish completes
(`recover`) before it reads anything. A disk that fills up or a folder that cannot be written stops the
publish with one line naming the folder, the previous set intact.

The journal is not trusted: it lies in the reports folder, which a commit can fill. It names its targets
relative to the reports folder, and `recover` moves or deletes only files of that folder (never through a
folder that is a symbolic link) or the README beside it; it refuses any other journal with one line saying
what to do, moving nothing.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from kvmatrix.files import lock_within, write_text_atomic
from kvmatrix.record.answers import PICTURES
from kvmatrix.record.detail import DETAIL_FOLDER
from kvmatrix.render.text import terminal_text

LOCK_NAME = ".publish.lock"
STAGING_NAME = ".staging"
JOURNAL_NAME = "JOURNAL.json"
LOCK_TIMEOUT_S = 600.0
"""How long a publish waits for another publish of the same reports folder before it gives up."""
LOCK_POLL_S = 0.2
COMPANIONS = ("README.md",)
"""Files beside the reports folder that a switch may replace with the set: the README whose table it embeds."""
STAGED_NAME = re.compile(r"\d{5}")
SET_FOLDERS = ("", DETAIL_FOLDER, "badges", PICTURES)
"""The folders of a report set, relative to the reports folder (nested sets and reports/bisect are not its)."""
OWN_TEMP = re.compile(r"\.[^/]+\.(json|jsonl|md|html|svg)\.\w+\.tmp")
"""What an interrupted atomic write of a file of the set leaves (kvmatrix.files.write_text_atomic)."""


class ReportsBusy(RuntimeError):
    """Another publish held the reports folder's lock for longer than the wait allowed."""


class ReportsNotWritten(OSError):
    """The report set could not be written (full disk, no permission, read-only folder): staging failed and
    nothing changed, or moving the staged files failed and the next publish completes the switch."""

    def __str__(self) -> str:
        """The one line naming the folder, without OSError's `[Errno N]` prefix."""
        return str(self.strerror)


class JournalRefused(ReportsNotWritten):
    """The staging folder's journal is not one a publish of this folder writes (unreadable, or naming a
    target outside the folder): nothing was moved, and the line says how to go on."""


class UnsafeTarget(ValueError):
    """A file of the set that cannot be written in place: outside the reports folder, or below a folder of it
    that is a symbolic link (writing would go through the link)."""


@contextmanager
def reports_lock(reports_dir: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive flock on `reports_dir/.publish.lock` for the block: a second publish of the same
    folder waits (saying so on stderr) up to `timeout_s` seconds, then raises ReportsBusy."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a committed lock that is a symbolic link must not create or truncate what it points to
    fd = os.open(reports_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
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
    completed (its files moved into place, its deletions done), one without is discarded, and the `.*.tmp`
    files an interrupted atomic write of a file of the set left in the set's folders are removed (no other
    file). A journal that is unreadable or names a target outside the folder raises JournalRefused, moving
    nothing. Call it holding `reports_lock`."""
    staging = reports_dir / STAGING_NAME
    if staging.is_symlink():  # a publish makes a real folder; this one could lead anywhere
        raise _refused(reports_dir, "is a symbolic link")
    journal = _read_journal(reports_dir)
    if journal is not None:
        _apply(staging, journal)
    if staging.exists():
        shutil.rmtree(staging)
    for folder in SET_FOLDERS:
        for stray in (reports_dir / folder).glob(".*.tmp"):
            if OWN_TEMP.fullmatch(stray.name) and not stray.is_dir():
                stray.unlink(missing_ok=True)


def _refused(reports_dir: Path, why: str) -> JournalRefused:
    """The one line saying that the staging folder of `reports_dir` was not applied, and what to do."""
    staging = reports_dir / STAGING_NAME
    return JournalRefused(errno.EINVAL, (
        f"cannot complete the interrupted publish in {reports_dir}: {staging} {why}; nothing was moved. "
        f"Look at it, then delete {staging} (rm -r) and publish again"))


def switch(reports_dir: Path, texts: dict[Path, str], delete: list[Path]) -> None:
    """Replace the report set under `reports_dir` as a whole: write every `texts` file (a target is a file of
    the folder or a COMPANIONS file beside it, on the same file system), then delete `delete` (a symbolic
    link is replaced or deleted itself, never what it points to). Staging failures, a target on another file
    system or below a symbolic link raise ReportsNotWritten with the published set intact. Call it holding
    `reports_lock`, after `recover`."""
    staging = reports_dir / STAGING_NAME
    try:
        files = [[f"{number:05d}", _relative(reports_dir, target)] for number, target in enumerate(texts)]
        journal = {"files": files, "delete": [_relative(reports_dir, path) for path in delete]}
        for relative in [target for _, target in files] + journal["delete"]:
            _check_target(reports_dir, relative)
        for target in texts:
            _check_same_file_system(reports_dir, target)
        staging.mkdir()
        for (name, _), (target, text) in zip(files, texts.items(), strict=True):
            staged = staging / name
            staged.write_text(text, encoding="utf-8")
            _fsync_file(staged, target)
        _fsync_folder(staging)
        write_text_atomic(staging / JOURNAL_NAME, json.dumps(journal))
    except (OSError, UnsafeTarget) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReportsNotWritten(getattr(exc, "errno", None) or errno.EINVAL,
                                f"cannot write the reports in {reports_dir}: {_reason(exc)}; "
                                "the published reports are unchanged") from None
    try:
        _apply(staging, journal)
    except OSError as exc:
        raise ReportsNotWritten(exc.errno, f"cannot finish replacing the reports in {reports_dir}: "
                                           f"{_reason(exc)}; the next publish completes it") from None
    shutil.rmtree(staging)


def _relative(reports_dir: Path, target: Path) -> str:
    """`target` relative to `reports_dir` as the journal names it, without resolving symbolic links (a
    link in the set is replaced, not written through): `cells/x.json`, `../README.md`."""
    return Path(os.path.relpath(os.path.abspath(target), os.path.abspath(reports_dir))).as_posix()


def _check_target(reports_dir: Path, relative: str) -> Path:
    """The path the journal entry `relative` names; UnsafeTarget unless it is a COMPANIONS file beside
    `reports_dir` or a file inside it (not its staging folder or lock) reached through no symbolic link."""
    base = Path(os.path.abspath(reports_dir))
    if relative in {f"../{name}" for name in COMPANIONS}:
        return base.parent / PurePosixPath(relative).name
    parts = PurePosixPath(relative).parts
    if (not parts or PurePosixPath(relative).is_absolute() or ".." in parts
            or parts[0] in (STAGING_NAME, LOCK_NAME)):
        raise UnsafeTarget(f"{relative} is not a file of the folder")
    for depth in range(1, len(parts)):
        if base.joinpath(*parts[:depth]).is_symlink():
            raise UnsafeTarget(f"{'/'.join(parts[:depth])} is a symbolic link, and a publish writes "
                               "no file through one")
    return base.joinpath(*parts)


def _check_same_file_system(reports_dir: Path, target: Path) -> None:
    """OSError(EXDEV) when the folder `target` goes into is on another file system than `reports_dir`:
    os.replace could not move the staged file there, so the set could not be switched as one."""
    folder = Path(os.path.abspath(target)).parent
    while not folder.exists():
        folder = folder.parent
    if os.stat(folder).st_dev != os.stat(reports_dir).st_dev:
        raise OSError(errno.EXDEV, f"{target} is on another file system than the reports, so the set cannot "
                                   "be switched as one (publish into a folder on the README's file system)")


def _reason(exc: OSError | UnsafeTarget) -> str:
    """What went wrong, without the path (the message names the folder)."""
    if isinstance(exc, UnsafeTarget):
        return str(exc)
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def _fsync_file(path: Path, target: Path) -> None:
    """fsync `path`, giving it the mode of `target` when that is a file (0644 otherwise: a symbolic link's
    mode, or its target's, is not the published file's)."""
    mode = target.stat().st_mode & 0o777 if target.is_file() and not target.is_symlink() else 0o644
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


def _read_journal(reports_dir: Path) -> dict[str, list[Any]] | None:
    """The journal of `reports_dir`'s staging folder; None when there is none (it is written atomically, so
    a publish leaves it whole or absent). JournalRefused when it is not one a publish writes: not JSON, not
    of its shape, a staged file that is not a staged name, a target outside the folder."""
    path = reports_dir / STAGING_NAME / JOURNAL_NAME
    if not path.exists() and not path.is_symlink():
        return None
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refused(reports_dir, f"holds a journal that cannot be read ({type(exc).__name__})") from None
    if (not isinstance(journal, dict) or set(journal) != {"files", "delete"}
            or not isinstance(journal["files"], list) or not isinstance(journal["delete"], list)
            or not all(isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)
                       and STAGED_NAME.fullmatch(entry[0]) for entry in journal["files"])
            or not all(isinstance(entry, str) for entry in journal["delete"])):
        raise _refused(reports_dir, "holds a journal that is not one a publish writes")
    try:
        for relative in [target for _, target in journal["files"]] + journal["delete"]:
            _check_target(reports_dir, relative)
    except UnsafeTarget as exc:
        raise _refused(reports_dir, f"holds a journal that is not one a publish writes: {exc}") from None
    return journal


def _apply(staging: Path, journal: dict[str, list[Any]]) -> None:
    """Move each staged file of `journal` over its target (those already moved are skipped), then delete its
    files to delete; idempotent, so a publish killed half-way through is completed by running it again.
    The targets were checked (_check_target) when the journal was written or read."""
    reports_dir = staging.parent
    targets = {name: _check_target(reports_dir, relative) for name, relative in journal["files"]}
    for name, target in targets.items():
        staged = staging / name
        if staged.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
    for relative in journal["delete"]:
        _check_target(reports_dir, relative).unlink(missing_ok=True)
    for folder in {target.parent for target in targets.values()}:
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
            except (ReportsBusy, ReportsNotWritten, OSError) as exc:  # e.g. a folder it cannot write: one line
                print(terminal_text(f"error: cannot recover {folder}: {exc}"), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
