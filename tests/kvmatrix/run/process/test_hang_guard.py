"""The hang guard's stack file tells a hung test (and where it was stuck) apart from a crashed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmatrix.run.process.hang_guard import HANG_DIR, hang_report, stack_file

NODE = "suites/test_export.py::test_export[DynamicCache-strict]"
DUMP = """\
Timeout (0:16:35)!
Thread 0x00007f0000000002 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "/usr/lib/python3.11/threading.py", line 1002 in _bootstrap

Thread 0x00007f0000000001 (most recent call first):
  File "/venv/lib/python3.11/site-packages/torch/_inductor/codecache.py", line 1234 in load
  File "/venv/lib/python3.11/site-packages/torch/_dynamo/eval_frame.py", line 88 in _fn
  File "{cwd}/suites/test_export.py", line 42 in test_export
"""


@pytest.fixture
def hang_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HANG_DIR, str(tmp_path))
    return tmp_path


def test_a_test_the_guard_stopped_is_hung_where_its_thread_was_stuck(hang_dir: Path) -> None:
    stack_file(NODE).write_text(DUMP.format(cwd=Path.cwd()))
    assert hang_report(NODE) == ("stuck outside Python in torch/_inductor/codecache.py:1234 (load); "
                                 "its process was stopped after 995s by the hard timeout")


def test_a_test_whose_process_died_otherwise_is_not_hung(hang_dir: Path) -> None:
    stack_file(NODE).write_text("")  # armed, then the process crashed before the deadline
    assert hang_report(NODE) is None
    assert hang_report("suites/test_export.py::never_started") is None


def test_outside_a_guarded_run_nothing_is_hung(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HANG_DIR, raising=False)
    assert stack_file(NODE) is None and hang_report(NODE) is None
