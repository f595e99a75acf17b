"""A cell resolves and installs as of its index snapshot, for real: uv against a loopback index whose files
carry PEP 700 upload times, one release uploaded before the snapshot and one after it (the index a fresh clone
meets on a later day)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.record.cell_record import InstallOutcome
from kvmatrix.run.env.install import diagnose, freeze, install
from kvmatrix.run.env.snapshot import snapshot_args, undated_projects
from kvmatrix.run.inputs import cell_inputs, resolve
from tests.support.index_server import Release, serve_index, use_only

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")
SNAPSHOT = "2026-12-01T00:00:00Z"
BEFORE = Release("kvcc-probe", "1.0", "2026-11-20T10:00:00.000000Z", ("kvcc-dep",))
AFTER = Release("kvcc-probe", "2.0", "2026-12-02T09:30:00.000000Z", ("kvcc-dep",))
"""Released a day after the snapshot: the index already has it, a cell as of the snapshot must not see it."""
DEP_BEFORE = Release("kvcc-dep", "1.0", "2026-10-01T00:00:00Z")
DEP_AFTER = Release("kvcc-dep", "1.1", "2026-12-05T00:00:00Z")
UNDATED_TORCH = Release("torch", "9.9.9", None)
"""torch as the PyTorch CPU index serves it: no upload time."""
UNDATED_OTHER = Release("kvcc-undated", "1.0", None)
LATER_DAY = (BEFORE, AFTER, DEP_BEFORE, DEP_AFTER, UNDATED_TORCH, UNDATED_OTHER)


@pytest.fixture
def venv_python(tmp_path: Path) -> str:
    subprocess.run(["uv", "venv", "-q", str(tmp_path / "venv")], check=True)
    return str(tmp_path / "venv" / "bin" / "python")


def test_no_snapshot_adds_no_argument_and_a_snapshot_exempts_torch_alone() -> None:
    assert snapshot_args(None) == []
    assert snapshot_args(SNAPSHOT) == ["--exclude-newer", SNAPSHOT, "--exclude-newer-package", "torch=false"]


@needs_uv
def test_a_release_newer_than_the_snapshot_is_never_resolved_or_installed(
    venv_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_index(releases=LATER_DAY) as index:
        env = use_only(monkeypatch, index.url)
        assert resolve(["kvcc-probe"], venv_python, env) == ["kvcc-dep==1.1", "kvcc-probe==2.0"]
        assert resolve(["kvcc-probe"], venv_python, env, snapshot=SNAPSHOT) == ["kvcc-dep==1.0", "kvcc-probe==1.0"]
        outcome = install(venv_python, ["kvcc-probe"], retries=1, snapshot=SNAPSHOT)
        assert outcome.status == "ran", outcome.reason
        assert freeze(venv_python) == ["kvcc-dep==1.0", "kvcc-probe==1.0"]


def install_as_of_snapshot(venv_python: str, monkeypatch: pytest.MonkeyPatch, requirement: str) -> InstallOutcome:
    """`requirement` installed as of SNAPSHOT from the later day's loopback index alone, tried once."""
    with serve_index(releases=LATER_DAY) as index:
        use_only(monkeypatch, index.url)
        return install(venv_python, [requirement], retries=1, snapshot=SNAPSHOT)


@needs_uv
def test_a_pin_newer_than_the_snapshot_is_not_installable_and_says_why(
    venv_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = install_as_of_snapshot(venv_python, monkeypatch, "kvcc-probe==2.0")
    assert outcome.status == "not-installable"
    assert "exclude-newer" in outcome.reason and SNAPSHOT in outcome.reason


@needs_uv
def test_torch_without_upload_times_is_exempt_by_name(venv_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_index(releases=LATER_DAY) as index:
        env = use_only(monkeypatch, index.url)
        assert resolve(["torch==9.9.9"], venv_python, env, snapshot=SNAPSHOT) == ["torch==9.9.9"]


@needs_uv
def test_another_project_without_upload_times_is_an_error_not_pins_that_cannot_coexist(
    venv_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = install_as_of_snapshot(venv_python, monkeypatch, "kvcc-undated==1.0")
    assert outcome.status == "error"
    assert "kvcc_undated" in outcome.reason or "kvcc-undated" in outcome.reason
    assert "no upload time" in outcome.reason


@pytest.mark.parametrize("quote", ["", "`"], ids=["bare", "backticks"])
def test_the_undated_files_uv_left_out_are_named(quote: str) -> None:
    output = (f"warning: {quote}kvcc_undated-1.0-py3-none-any.whl{quote} is missing an upload date, but user "
              f"provided: {SNAPSHOT}\n  × No solution found when resolving dependencies:\n")
    assert undated_projects(output) == "kvcc_undated"
    assert diagnose(output)[0] == "error"
    assert undated_projects("× No solution found when resolving dependencies:") is None


@needs_uv
def test_a_later_day_with_newer_releases_gives_the_same_inputs_key(venv_python: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The cell's inputs on the day of its publish (the index had only the releases before the snapshot) and
    on a later day (the index has newer ones too) are the same, so the later run reuses the published cell;
    without a snapshot they differ, which is why every cell used to run again."""
    wanted = ["kvcc-probe"]
    with serve_index(releases=(BEFORE, DEP_BEFORE)) as index:
        env = use_only(monkeypatch, index.url)
        published = cell_inputs(wanted, venv_python, REPO_ROOT, env, snapshot=SNAPSHOT)
        floating_then = cell_inputs(wanted, venv_python, REPO_ROOT, env)
    with serve_index(releases=LATER_DAY) as index:
        env = use_only(monkeypatch, index.url)
        later = cell_inputs(wanted, venv_python, REPO_ROOT, env, snapshot=SNAPSHOT)
        floating_later = cell_inputs(wanted, venv_python, REPO_ROOT, env)
    assert published is not None and later is not None
    assert later["key"] == published["key"]
    assert floating_then["key"] != floating_later["key"]
