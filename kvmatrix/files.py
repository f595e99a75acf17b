"""Atomic file writes: every published file is replaced whole (temp file, fsync, rename), never half-written;
and waiting for an exclusive file lock, which writers of one file share."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically: temp file in the same folder, fsync, os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def json_text(obj: Any) -> str:
    """`obj` as indented JSON text (UTF-8 characters kept), ending with a newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def json_lines(document: dict[str, Any], *listed: str) -> str:
    """`document` as compact JSON (indentation would double its size) with one line per top-level field and
    one per item of each of its lists `listed`, so a diff of two versions shows which items changed."""
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = [f"{compact(key)}:[\n" + ",\n".join(map(compact, value)) + "\n]" if key in listed
             else f"{compact(key)}:{compact(value)}" for key, value in document.items()]
    return "{" + ",\n".join(lines) + "}\n"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Replace `path` with `obj` as indented JSON, atomically (see write_text_atomic)."""
    write_text_atomic(path, json_text(obj))


def lock_within(fd: int, timeout_s: float, poll_s: float, waiting: Callable[[], None] | None = None) -> bool:
    """Take an exclusive flock on the open file `fd`, trying every `poll_s` seconds for up to `timeout_s`; False
    when another holder kept it that long. `waiting` is called once, when the first try finds it held. The lock
    goes with the descriptor's last close, or with the process that dies holding it."""
    deadline = time.monotonic() + timeout_s
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if waiting is not None and not said:
                waiting()
                said = True
            time.sleep(poll_s)
