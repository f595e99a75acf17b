"""`python -m kvmatrix COMMAND`: one command line for every entry point of the harness, each run through a
real subprocess as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.__main__ import COMMANDS, commands_markdown

# argparse wraps its lines to the terminal's width: the same width for both ways of running a command
WIDE = {**os.environ, "COLUMNS": "1000"}


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=REPO_ROOT, env=WIDE, capture_output=True,
                          text=True, timeout=120)


def test_every_entry_point_has_a_command() -> None:
    """A module of kvmatrix/ that runs as `python -m kvmatrix.x.y` is a command too (the fork server and its
    client, which the harness starts, are not)."""
    entry_points = {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        for path in (REPO_ROOT / "kvmatrix").rglob("*.py")
        if re.search(r'^if __name__ == "__main__":', path.read_text(encoding="utf-8"), re.M)
    } - {"kvmatrix.__main__", "kvmatrix.run.process.fork_client", "kvmatrix.run.process.fork_server"}
    assert entry_points == {command.module for command in COMMANDS.values()}


@pytest.mark.parametrize("argv", [["--help"], ["-h"]])
def test_help_lists_every_command_with_its_help_line(argv: list[str]) -> None:
    proc = run("kvmatrix", *argv)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    for name, command in COMMANDS.items():
        assert re.search(rf"^  {re.escape(name)} +{re.escape(command.help)}$", proc.stdout, re.M), proc.stdout


def test_no_command_lists_them_and_exits_2() -> None:
    proc = run("kvmatrix")
    assert proc.returncode == 2 and not proc.stdout
    assert all(f"  {name} " in proc.stderr for name in COMMANDS), proc.stderr


def test_an_unknown_command_is_one_line_naming_the_commands() -> None:
    proc = run("kvmatrix", "publish-everything", "--now")
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unknown command 'publish-everything'" in proc.stderr
    assert proc.stderr.rstrip().endswith(", ".join(COMMANDS)), proc.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_a_commands_help_and_usage_errors_are_its_modules_own(name: str) -> None:
    """`python -m kvmatrix NAME --help` prints exactly what `python -m kvmatrix.x.y [SUBCOMMAND] --help` prints,
    and a usage error is the module's: the command runs the module's own `main`."""
    command = COMMANDS[name]
    proc = run("kvmatrix", name, "--help")
    own = run(command.module, *command.subcommand, "--help")
    assert proc.returncode == own.returncode == 0, proc.stderr + own.stderr
    assert proc.stdout == own.stdout and re.search(r"^  -h, --help ", proc.stdout, re.M), proc.stdout
    wrong = run("kvmatrix", name, "--no-such-option")
    assert wrong.returncode == 2 and wrong.stderr == run(command.module, *command.subcommand,
                                                         "--no-such-option").stderr


def test_plan_prints_the_same_outputs_as_the_module() -> None:
    proc = run("kvmatrix", "plan")
    assert proc.returncode == 0, proc.stderr
    assert [line.split("=", 1)[0] for line in proc.stdout.splitlines()] == ["matrix", "cells"]
    assert proc.stdout == run("kvmatrix.plan.actions").stdout


def test_the_exit_status_is_the_commands(tmp_path: Path) -> None:
    """`toxgen --check` against a stale file exits 1, as the module does; against tox.ini, 0."""
    stale = tmp_path / "tox.ini"
    stale.write_text("[tox]\n", encoding="utf-8")
    proc = run("kvmatrix", "toxgen", "--check", "--output", str(stale))
    assert proc.returncode == 1 and "is out of date" in proc.stderr, proc.stderr
    assert stale.read_text(encoding="utf-8") == "[tox]\n"
    assert run("kvmatrix", "toxgen", "--check").returncode == 0


def test_running_md_lists_every_command() -> None:
    """docs/running.md carries the list `commands_markdown()` gives; paste it there when a command changes."""
    assert commands_markdown() in (REPO_ROOT / "docs" / "running.md").read_text(encoding="utf-8"), \
        commands_markdown()
