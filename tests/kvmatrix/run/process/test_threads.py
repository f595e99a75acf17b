"""Each pytest process of a cell runs torch on its share of the cores (kvmatrix.run.process.threads): the usable
cores divided by the workers that run at once, at least one; OMP_NUM_THREADS set by the user is kept; the share
reaches the suites' processes and is one of the cell's inputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kvmatrix.run.inputs import inputs_from
from kvmatrix.run.process import threads
from kvmatrix.run.process.threads import process_threads, usable_cores, with_thread_share
from tests.support.checkouts import run_one_suite_file


@pytest.mark.parametrize(
    ("cores", "env", "share"),
    [
        (2, {}, "1"),
        (8, {}, "4"),
        (8, {"KVCC_MODES_AT_ONCE": "1"}, "8"),
        (8, {"KVCC_MODES_AT_ONCE": "2", "KVCC_WORKERS": "2"}, "2"),
        (1, {}, "1"),
        (3, {"KVCC_MODES_AT_ONCE": "4"}, "1"),
    ],
    ids=["2 cores, 2 modes", "8 cores, 2 modes", "8 cores, 1 mode", "8 cores, 2 modes x 2 workers",
         "1 core", "fewer cores than processes"],
)
def test_each_process_gets_the_usable_cores_shared_by_the_workers_at_once(
    monkeypatch: pytest.MonkeyPatch, cores: int, env: dict[str, str], share: str
) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    assert process_threads(env) == share
    assert with_thread_share({"PATH": "/bin", **env}) == {"PATH": "/bin", **env, "OMP_NUM_THREADS": share}


def test_omp_num_threads_set_by_the_user_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 64)
    assert process_threads({"OMP_NUM_THREADS": "3"}) == "3"
    assert with_thread_share({"OMP_NUM_THREADS": "3"}) == {"OMP_NUM_THREADS": "3"}


def test_the_usable_cores_are_this_process_s_affinity() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert usable_cores() == expected >= 1


def test_the_suites_processes_run_with_the_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("KVCC_MODES_AT_ONCE", "1")
    run_one_suite_file(tmp_path / "repo", "test_threads.py",
                       "def test_share():\n"
                       f"    assert os.environ['OMP_NUM_THREADS'] == '{usable_cores()}'\n")


def test_the_share_is_one_of_the_cell_s_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    root = tmp_path / "checkout"
    root.mkdir()

    def inputs(env: dict[str, str]) -> dict:
        return inputs_from(["torch==2.13.0"], f"{sys.version_info.major}.{sys.version_info.minor}.0", root, env)

    shared = inputs({})
    assert shared["parts"]["settings"]["OMP_NUM_THREADS"] == "4"
    assert inputs({"KVCC_MODES_AT_ONCE": "1"})["parts"]["settings"]["OMP_NUM_THREADS"] == "8"
    chosen = inputs({"OMP_NUM_THREADS": "4"})
    assert chosen["key"] == shared["key"], "the same threads are the same input, however they were chosen"
    assert inputs({"OMP_NUM_THREADS": "2"})["key"] != shared["key"]
