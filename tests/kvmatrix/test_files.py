"""kvmatrix.files: an atomic write replaces a file's content whole, keeping its mode, or leaves the old content;
either way no temporary file is left."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kvmatrix.files import write_json_atomic, write_text_atomic


def test_atomic_write_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "matrix.json"
    target.write_text("old")
    target.chmod(0o640)
    write_json_atomic(target, {"cells": ["✅"]})
    assert json.loads(target.read_text(encoding="utf-8")) == {"cells": ["✅"]}
    assert target.read_text(encoding="utf-8").endswith("\n")
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["matrix.json"]


def test_failed_atomic_write_keeps_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "matrix.md"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "a lone surrogate \ud800 cannot be encoded")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["matrix.md"]
