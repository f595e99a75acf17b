"""What uv resolves for a cell's inputs, for real: from a folder of wheels made here (no index, no network),
and a real pair from the index (warm cache); the key's other parts: tests/kvmatrix/run/test_inputs.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kvmatrix.plan.pins import Cell
from kvmatrix.run.cell import requirements
from kvmatrix.run.env.interpreters import find_interpreter
from kvmatrix.run.inputs import cell_inputs, changed_parts
from tests.support.wheels import make_wheel

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")


@needs_uv
def test_uv_resolves_from_the_wheels_and_a_new_release_changes_the_resolved_part(
    wheels: Path, checkout: Path
) -> None:
    before = cell_inputs(["alpha"], sys.executable, checkout)
    make_wheel(wheels, "alpha", "2.0")
    after = cell_inputs(["alpha"], sys.executable, checkout)
    assert before["parts"]["resolved"] == ["alpha==1.0"]
    assert after["parts"]["resolved"] == ["alpha==2.0"]
    assert changed_parts(before, after) == ["resolved"]


@needs_uv
def test_another_interpreter_changes_the_python_part(wheels: Path, checkout: Path) -> None:
    other = find_interpreter("3.10" if sys.version_info[:2] != (3, 10) else "3.11")
    if not Path(other).exists():
        pytest.skip("no second CPython on this machine")
    assert "python" in changed_parts(cell_inputs(["alpha"], sys.executable, checkout),
                                     cell_inputs(["alpha"], other, checkout))


@needs_uv
def test_a_compile_that_fails_makes_the_inputs_unknown(wheels: Path, checkout: Path) -> None:
    assert cell_inputs(["beta"], sys.executable, checkout) is None  # no wheel of beta, no index


@needs_uv
def test_a_real_pair_resolves_to_its_pins_with_uv() -> None:
    """uv resolves a pinned cell's requirements from the real index (warm cache): the pins, and the key
    is stable across two compiles."""
    cell = Cell.from_id("tf4.53.3-torch2.13.0")
    python = find_interpreter("3.11")
    first = cell_inputs(requirements(cell), python)
    second = cell_inputs(requirements(cell), python)
    assert first is not None, subprocess.run(["uv", "--version"], capture_output=True, text=True).stdout
    assert "transformers==4.53.3" in first["parts"]["resolved"]
    assert any(line.startswith("torch==2.13.0") for line in first["parts"]["resolved"])
    assert first["key"] == second["key"]


@needs_uv
def test_a_client_that_cannot_join_the_cell_s_pins_is_a_part_with_the_resolver_s_reason(
    wheels: Path, checkout: Path
) -> None:
    make_wheel(wheels, "alpha", "2.0")
    make_wheel(wheels, "beta", "1.0", requires=("alpha>=2",))
    found = cell_inputs(["alpha==1.0"], sys.executable, checkout,
                        clients={"beta": ["alpha==1.0", "beta"], "free": ["alpha==1.0"]})
    assert found is not None
    assert found["parts"]["clients"]["free"] == ["alpha==1.0"]
    assert found["parts"]["clients"]["beta"].startswith("not-installable: ")
    assert "beta" in found["parts"]["clients"]["beta"]

