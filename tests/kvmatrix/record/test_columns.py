"""kvmatrix.record.columns: the suite columns are the checkout's suites/test_<name>.py files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.record.columns import discover_suites

REPO = Path(__file__).resolve().parents[3]


def test_every_suite_file_is_a_column_named_without_its_prefix_in_alphabetical_order(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    for name in ("test_wrapper.py", "test_export.py", "test_cond.py", "conftest.py", "recorder.py",
                 "__init__.py", "test_notes.txt"):
        (tmp_path / "suites" / name).write_text("")
    assert discover_suites(tmp_path) == ["cond", "export", "wrapper"]


def test_the_default_checkout_is_this_one() -> None:
    assert discover_suites() == sorted(path.stem[5:] for path in (REPO / "suites").glob("test_*.py"))


def test_a_checkout_without_suite_files_is_refused(tmp_path: Path) -> None:
    refusal = "no suite file .*suites/test_\\*.py: the matrix would have no column"
    with pytest.raises(ValueError, match=refusal):
        discover_suites(tmp_path)
