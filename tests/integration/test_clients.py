"""The client environments of a real cell with real uv (kvmatrix.run.clients): a client that cannot join the
cell's pins is not installable and never runs; the clients of a real pinned cell resolve with its pins
unmoved. The rest of kvmatrix.run.clients: tests/kvmatrix/run/test_clients.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import Cell
from kvmatrix.record.verdicts import NOT_INSTALLABLE
from kvmatrix.run.cell import inputs_of
from kvmatrix.run.clients import (
    CLIENTS,
    Client,
    run_client,
)
from kvmatrix.run.env.interpreters import find_interpreter
from tests.support.wheels import make_wheel

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")


@needs_uv
def test_a_client_that_cannot_join_the_cell_s_pins_is_not_installable_and_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "alpha", "1.0")
    make_wheel(wheels, "alpha", "2.0")
    make_wheel(wheels, "beta", "1.0", requires=("alpha>=2",))
    for name, value in {"PIP_FIND_LINKS": str(wheels), "UV_NO_INDEX": "1", "KVCC_CPU_WHEELS": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("UV_TORCH_BACKEND", raising=False)
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    client_entry, runs = run_client(Client("beta", ("beta",)), ["alpha==1.0"], minor, tmp_path / "cell")
    assert client_entry["status"] == NOT_INSTALLABLE and client_entry["installed"] is None
    assert "alpha" in client_entry["reason"] and "beta" in client_entry["reason"]
    assert runs == {}
    assert (tmp_path / "cell" / "client-beta" / "venv" / "bin" / "python").exists()


@needs_uv
def test_the_clients_resolve_with_the_real_cell_s_pins_unmoved() -> None:
    """uv resolves every client environment of a real pinned cell (the real index, warm cache), each with
    the cell's own torch and transformers; these sets are the inputs' `clients` part."""
    cell = Cell.from_id("tf4.57.6-torch2.13.0")
    inputs = inputs_of(cell, find_interpreter("3.11"), REPO_ROOT)
    assert inputs is not None, "uv could not resolve the cell or a client"
    for client in CLIENTS:
        resolved = inputs["parts"]["clients"][client.name]
        for package in client.packages:
            assert any(line.startswith(f"{package}==") for line in resolved), (package, resolved)
        assert "transformers==4.57.6" in resolved
        assert any(line.startswith("torch==2.13.0") for line in resolved)
