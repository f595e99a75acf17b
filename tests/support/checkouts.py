"""Checkouts made for the tests: the harness files a demo checkout needs to run suites through the real
recorder and fork server, a demo checkout with two tests, and a copy of what `nox -s publish` reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kvmatrix import REPO_ROOT
from kvmatrix.run.process.pytest_run import run_suites

HARNESS_FILES = (
    "suites/__init__.py", "kvmatrix/__init__.py", "kvmatrix/settings.py", "kvmatrix/files.py",
    "kvmatrix/run/__init__.py", "kvmatrix/run/process/__init__.py", "kvmatrix/run/process/recorder.py",
    "kvmatrix/run/process/attribution.py", "kvmatrix/run/process/hang_guard.py",
    "kvmatrix/run/process/fork_server.py", "kvmatrix/run/process/forked_workers.py",
    "kvmatrix/run/process/fork_client.py", "kvmatrix/record/__init__.py", "kvmatrix/record/columns.py",
    "kvmatrix/record/paths.py",
    "kvmatrix/record/verdicts.py",
)
"""The harness files a checkout made by a test needs to run its suites: the recorder plug-in and what it
reads (its KVCC_* variables, files, locks, suite names, path shortener, verdict names), the hang guard, and the fork
server."""


def copy_harness(root: Path) -> Path:
    """Copy HARNESS_FILES from this checkout into `root`."""
    for name in HARNESS_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, root / name)
    return root


def demo_repo(root: Path) -> Path:
    """A repository with the real recorder plug-in, a suites/ conftest that describes the cell only in
    the processes that run tests (as the real one does), and two tests."""
    (root / "suites").mkdir(parents=True)
    copy_harness(root)
    (root / "suites" / "conftest.py").write_text(
        "import os\n"
        "from kvmatrix.run.process.recorder import ENVIRONMENT\n\n"
        "def pytest_configure(config):\n"
        "    if hasattr(config, 'workerinput'):\n"
        "        config.stash[ENVIRONMENT] = lambda: {'layout': 'described by worker ' + str(os.getpid())}\n")
    (root / "suites" / "test_demo.py").write_text(
        "import os\n\n"
        "def test_a():\n    assert os.environ['KVCC_REGISTRATION'] == 'without'\n\n"
        "def test_b():\n    pass\n")
    return root


def run_one_suite_file(repo: Path, name: str, tests: str) -> Path:
    """The demo checkout at `repo` with suites/`name` holding `tests` (os, sys and Path imported), after a
    `without` run of that file alone in which every test passed."""
    root = demo_repo(repo)
    (root / "suites" / name).write_text(f"import os, sys\nfrom pathlib import Path\n\n{tests}")
    run = run_suites(sys.executable, root, "without", repo.parent / "work", selection=[f"suites/{name}"])
    assert [test["verdict"] for test in run["tests"]] == ["pass"], run["log_tail"]
    return root


def checkout_copy(root: Path) -> Path:
    """A checkout at `root` of what `nox -s publish` reads and writes: the code, the noxfile, pyproject.toml
    and the README (its committed reports/ are left out, so a publish there starts a new set)."""
    for name in ("kvmatrix", "suites", "compat"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


def nox_publish_committed(checkout: Path, pins_file: Path, results: Path) -> subprocess.CompletedProcess:
    """`nox -s publish` in `checkout` into its committed `reports/` (`--reports reports`), which also writes the
    README table and compat/verified.json."""
    return subprocess.run([sys.executable, "-m", "nox", "-s", "publish", "--", "--results", str(results),
                           "--reports", "reports", "--cells", "tf4.57.6-torch2.13.0"], cwd=checkout,
                          env={**os.environ, "KVCC_PINS": str(pins_file)}, capture_output=True, text=True)
