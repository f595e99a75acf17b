"""Atomic file writes: every published file is replaced whole (temp file, fsync, rename), never half-written."""

from __future__ import annotations

import json
import os
import tempfile
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


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Replace `path` with `obj` as indented JSON, atomically (see write_text_atomic)."""
    write_text_atomic(path, json_text(obj))


