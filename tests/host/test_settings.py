"""kvmatrix.settings is the one table of KVCC_* variables: code cannot read one the table lacks."""

from __future__ import annotations

import re
import subprocess

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.settings import SETTINGS, int_setting, setting

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
