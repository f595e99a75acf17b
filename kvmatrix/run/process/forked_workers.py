"""A pytest plugin for the controller of a cell's run (`-p kvmatrix.run.process.forked_workers`, added by the harness when
the run has a fork server, kvmatrix.run.process.fork_client): each pytest-xdist worker, the first ones and those that
replace a crashed one, is forked from the environment's server instead of started, by making the worker
spec's Python the server's client."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import pytest

from kvmatrix.run.process.fork_client import SOCKET_VARIABLE
from kvmatrix.settings import setting


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    """Point every worker spec at `python -m kvmatrix.run.process.fork_client connect SOCKET` (execnet appends its
    `-u -c CODE`)."""
    path = setting(SOCKET_VARIABLE)
    if not path:
        return
    client = shlex.join([sys.executable, "-m", "kvmatrix.run.process.fork_client", "connect", path])
    for spec in specs:
        spec.python = client
