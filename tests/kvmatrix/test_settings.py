"""kvmatrix.settings is the one table of KVCC_* variables: code cannot read one the table lacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.settings import SETTINGS, int_setting, setting, setting_problems

VARIABLE = re.compile(r"\bKVCC_[A-Z][A-Z0-9_]*\b")


def _code_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [path for path in listed if path.startswith(("kvmatrix/", "suites/", "compat/", "noxfile.py"))]


def test_every_kvcc_variable_named_in_the_code_is_in_the_settings_table() -> None:
    named = {name for path in _code_files() for name in VARIABLE.findall((REPO_ROOT / path).read_text())}
    assert named, "the scan found no KVCC_* variable at all: it is looking in the wrong place"
    assert named - set(SETTINGS) == set()


def test_only_the_settings_module_reads_kvcc_variables_from_the_environment() -> None:
    reader = re.compile(r"environ(?:\.get)?\(\s*[\"']KVCC_|environ\[[\"']KVCC_")
    readers = [path for path in _code_files() if reader.search((REPO_ROOT / path).read_text())]
    assert readers == []


def test_a_setting_reads_the_environment_given_else_its_default() -> None:
    assert setting("KVCC_REGISTRATION", {}) == "with"
    assert setting("KVCC_REGISTRATION", {"KVCC_REGISTRATION": "without"}) == "without"
    assert int_setting("KVCC_WORKERS", {"KVCC_WORKERS": "3"}) == 3


def test_an_unknown_name_or_a_non_integer_value_is_refused_with_the_name() -> None:
    with pytest.raises(KeyError):
        setting("KVCC_NO_SUCH_THING", {})
    with pytest.raises(ValueError, match="KVCC_WORKERS='two'"):
        int_setting("KVCC_WORKERS", {"KVCC_WORKERS": "two"})


def test_every_default_passes_its_own_check() -> None:
    defaults = {name: each.default for name, each in SETTINGS.items() if each.default is not None}
    assert setting_problems(defaults) == []


def test_values_that_would_lose_crash_isolation_or_the_hang_guard_are_refused_in_one_line_each() -> None:
    problems = setting_problems({"KVCC_WORKERS": "0", "KVCC_TEST_TIMEOUT_S": "0", "KVCC_RERUNS": "yes",
                                 "KVCC_FLAKY_RUNS": "1", "KVCC_MODES_AT_ONCE": "-1", "KVCC_PINS": "other.toml"})
    assert problems == [
        "KVCC_WORKERS='0': must be a whole number from 1 to 256",
        "KVCC_MODES_AT_ONCE='-1': must be a whole number from 1 to 64",
        "KVCC_TEST_TIMEOUT_S='0': must be a whole number from 1 to 86400",
        "KVCC_RERUNS='yes': must be '0' or '1'",
        "KVCC_FLAKY_RUNS='1': must be a whole number from 2 to 100",
    ]


def test_the_cell_command_refuses_a_bad_setting_before_it_starts_anything(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kvmatrix.run.cell_cli", "tf4.57.6-torch2.13.0", "--results",
                           str(tmp_path)], cwd=REPO_ROOT, env={**os.environ, "KVCC_WORKERS": "0"},
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: KVCC_WORKERS='0': must be a whole number from 1 to 256"
    assert list(tmp_path.iterdir()) == []
