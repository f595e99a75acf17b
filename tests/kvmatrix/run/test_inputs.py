"""A cell's inputs key changes when, and only when, one of its parts does: the set uv resolves, the
interpreter, the code that runs in the cell, the settings that change a record, the selection (the parts
uv resolves for real: tests/integration/test_inputs.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.run.inputs import (
    RECORDED_SETTINGS,
    UNRECORDED_SETTINGS,
    cell_inputs,
    changed_parts,
    code_digest,
    code_files,
    inputs_from,
)
from kvmatrix.settings import SETTINGS

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
RESOLVED = ("alpha==1.0", "torch==2.13.0+cpu")


def key(root: Path, resolved: tuple[str, ...] = RESOLVED, version: str = "3.11.7",
        env: dict[str, str] | None = None, selection: list[str] | None = None) -> str:
    """The inputs key of a cell with these parts (the defaults: one fixed cell)."""
    return inputs_from(list(resolved), version, root, env or {}, selection)["key"]


def test_the_key_is_the_same_for_the_same_inputs_in_another_checkout(checkout: Path) -> None:
    assert key(checkout) == key(checkout) == key(REPO_ROOT)
    assert key(checkout, resolved=tuple(reversed(RESOLVED))) == key(checkout)


def test_another_resolved_set_changes_the_key(checkout: Path) -> None:
    before = inputs_from(list(RESOLVED), "3.11.7", checkout, {})
    after = inputs_from(["alpha==2.0", "torch==2.13.0+cpu"], "3.11.7", checkout, {})
    assert before["key"] != after["key"]
    assert changed_parts(before, after) == ["resolved"]


def test_another_python_patch_release_changes_the_key(checkout: Path) -> None:
    assert key(checkout, version="3.11.8") != key(checkout)


def test_a_change_to_the_suites_the_library_or_the_harness_changes_the_key(checkout: Path) -> None:
    before = key(checkout)
    for changed in ("suites/conftest.py", "compat/registry.py", "kvmatrix/run/process/pytest_run.py",
                    "kvmatrix/record/verdicts.py", "kvmatrix/settings.py", "pyproject.toml"):
        path = checkout / changed
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        assert key(checkout) != before, changed
        path.write_bytes(original)
    assert key(checkout) == before


def test_caches_and_code_outside_the_cell_leave_the_code_digest_alone(checkout: Path) -> None:
    before = code_digest(checkout)
    (checkout / "suites" / "__pycache__").mkdir()
    (checkout / "suites" / "__pycache__" / "conftest.cpython-311.pyc").write_bytes(b"\x00compiled")
    (checkout / "kvmatrix" / "render" / "markdown.py").write_text("# the page changed, not the cell\n")
    assert code_digest(checkout) == before


def test_the_answers_a_publish_bundles_into_compat_leave_the_code_digest_alone(checkout: Path) -> None:
    verified = checkout / "compat" / "verified.json"
    verified.parent.mkdir(exist_ok=True)
    verified.write_text('{"pairs": []}\n')
    before = code_digest(checkout)
    verified.write_text('{"pairs": [{"id": "tf4.57.6-torch2.13.0"}]}\n')  # what the next publish writes
    assert code_digest(checkout) == before


def test_a_renamed_file_changes_the_code_digest(checkout: Path) -> None:
    before = code_digest(checkout)
    (checkout / "suites" / "support" / "models.py").rename(checkout / "suites" / "support" / "models_renamed.py")
    assert code_digest(checkout) != before


def test_a_module_the_harness_comes_to_import_joins_the_digest_without_a_list(checkout: Path) -> None:
    new = checkout / "kvmatrix" / "plan" / "new_helper.py"
    new.write_text("HELPER = 1\n")
    before = code_digest(checkout)
    assert new not in code_files(checkout), "nothing in a cell imports it yet"
    with (checkout / "kvmatrix" / "run" / "cell.py").open("a") as harness:
        harness.write("from kvmatrix.plan.new_helper import HELPER  # noqa: E402\n")
    assert new in code_files(checkout)
    imported = code_digest(checkout)
    new.write_text("HELPER = 2\n")
    assert len({before, imported, code_digest(checkout)}) == 3


def test_the_reports_and_bisect_code_are_outside_the_digest() -> None:
    names = {path.relative_to(REPO_ROOT).as_posix() for path in code_files(REPO_ROOT)}
    assert {"kvmatrix/plan/pins.py", "kvmatrix/settings.py", "kvmatrix/__init__.py", "pyproject.toml"} <= names
    assert not [name for name in names if name.startswith(("kvmatrix/render/", "kvmatrix/publish/",
                                                           "kvmatrix/bisect/"))]
    assert not names & {"compat/check.py", "compat/verified.json"}


@pytest.mark.parametrize("name,value", [("KVCC_RERUNS", "0"), ("KVCC_EXTRA_PLUGINS", "tests.faults.crash_plugin"),
                                        ("KVCC_TEST_TIMEOUT_S", "60"), ("KVCC_WORKERS", "2")])
def test_a_setting_that_changes_a_record_changes_the_key(checkout: Path, name: str, value: str) -> None:
    assert key(checkout, env={name: value}) != key(checkout)


def test_settings_that_do_not_change_a_record_leave_the_key_alone(checkout: Path) -> None:
    unrelated = {"KVCC_PINS": "pins-full.toml", "KVCC_CHROMIUM": "/usr/bin/chromium", "HOME": "/elsewhere"}
    assert key(checkout, env=unrelated) == key(checkout)


def test_a_selection_of_tests_changes_the_key(checkout: Path) -> None:
    assert key(checkout, selection=["suites/test_export.py::test_x"]) != key(checkout)


def test_every_setting_is_an_input_or_says_why_not() -> None:
    assert set(RECORDED_SETTINGS).isdisjoint(UNRECORDED_SETTINGS)
    assert set(RECORDED_SETTINGS) | set(UNRECORDED_SETTINGS) == set(SETTINGS)


def test_an_interpreter_that_does_not_start_makes_the_inputs_unknown(wheels: Path, checkout: Path) -> None:
    assert cell_inputs(["alpha"], str(checkout / "no-python"), checkout) is None


def test_another_resolved_set_of_a_client_changes_the_key(checkout: Path) -> None:
    before = inputs_from(list(RESOLVED), "3.11.7", checkout, {}, clients={"tico": ["tico==0.3.0", *RESOLVED]})
    after = inputs_from(list(RESOLVED), "3.11.7", checkout, {}, clients={"tico": ["tico==0.4.0", *RESOLVED]})
    unresolvable = inputs_from(list(RESOLVED), "3.11.7", checkout, {}, clients={"tico": "not-installable: x"})
    assert changed_parts(before, after) == ["clients"]
    assert len({before["key"], after["key"], unresolvable["key"]}) == 3
