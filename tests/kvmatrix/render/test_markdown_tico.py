"""matrix.md with a cell run under TICO's own registration and with client suites: the compat vs TICO
section (counts, each differing test with its error), the Clients section, and failures that neither
call a client that could not be installed an error nor forget the TICO run's failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell, Pins
from kvmatrix.record.answers import uses_document
from kvmatrix.record.cell_record import InstallOutcome, build_record
from kvmatrix.render.markdown import render_markdown

CELL = Cell(transformers="4.57.6", torch="2.13.0")
PINS = Pins(python="3.11", cells=(CELL,), path="pins.toml")
SUITES = ["executorch", "export"]
COMPAT_ERROR = "AssertionError: exported step diverged"
TICO_ERROR = "TypeError: StaticLayer is not a registered pytree node"
NO_EXECUTORCH = "executorch 1.0.1 needs torch 2.9 or newer"


def case(name: str, verdict: str, error: str | None = None) -> dict[str, Any]:
    return {"suite": "export", "name": name, "verdict": verdict, "reason": None, "error": error}


@pytest.fixture
def rendered(published: Callable[..., Any]) -> Callable[..., str]:
    """matrix.md of one cell whose `with` run passes `a` and fails `b`, with a TICO run of `tico` (none:
    no TICO run) and `clients`."""
    def render(tico: list[dict[str, Any]] | None, clients: dict[str, Any] | None = None) -> str:
        matrix, details = published(PINS, [one_cell(tico, clients)], suites=SUITES)
        return render_markdown(matrix, details, uses_document(matrix))
    return render


def one_cell(tico: list[dict[str, Any]] | None, clients: dict[str, Any] | None) -> dict[str, Any]:
    tests = {"with": [case("a", "pass"), case("b", "fail", COMPAT_ERROR)], "without": [case("a", "pass")],
             **({"tico": tico} if tico is not None else {})}
    runs = {mode: {"exit_code": 1, "duration_s": 1.0, "tests": found} for mode, found in tests.items()}
    return build_record(CELL, InstallOutcome("ran"), [], runs, 1.0, SUITES, clients=clients)


def section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_tico_section_counts_per_cell_and_lists_each_differing_test_with_the_losing_error(rendered: Callable[..., str]) -> None:
    text = section(rendered([case("a", "fail", TICO_ERROR), case("b", "pass")]), "compat vs TICO registration")
    assert f"- `{CELL.id}`: 2 tests compared; 1 pass only with TICO's registration, 1 only with " \
           "`compat.register()`" in text
    assert f"  - export · `b`: ❌ fail with compat: `{COMPAT_ERROR}`" in text
    assert f"  - export · `a`: ❌ fail with TICO: `{TICO_ERROR}`" in text


def test_a_matrix_without_a_tico_run_says_none_was_compared(rendered: Callable[..., str]) -> None:
    text = section(rendered(None), "compat vs TICO registration")
    assert "No cell has run the suites under TICO's registration yet." in text


def test_the_clients_section_says_why_a_client_did_not_run_and_its_suite_is_not_a_failure(rendered: Callable[..., str]) -> None:
    clients = {"executorch": {"status": "not-installable", "reason": NO_EXECUTORCH, "installed": None}}
    text = rendered([case("a", "pass")], clients)
    assert f"- `{CELL.id}`: executorch 🚫 not-installable: {NO_EXECUTORCH}" in section(text, "Clients")
    assert "executorch reported no test" not in section(text, "Failures")
    assert "🚫 not-installable 🚫 not-installable" not in text
    assert "🚫 not-installable / 🚫 not-installable" in section(text, "Matrix")


def test_a_client_that_ran_shows_the_version_installed(rendered: Callable[..., str]) -> None:
    clients = {"executorch": {"status": "ran", "reason": None, "installed": "executorch==1.0.1"}}
    assert "executorch ran (`executorch==1.0.1`)" in section(rendered(None, clients), "Clients")


def test_the_failures_list_the_tico_runs_failing_tests_and_its_suites_without_a_test(rendered: Callable[..., str]) -> None:
    ran = {"status": "ran", "reason": None, "installed": None}
    text = section(rendered([case("a", "fail", TICO_ERROR)], {"executorch": ran, "tico": ran}), "Failures")
    assert "  - export · `a` (tico)" in text
    assert "executorch reported no test in the `tico` run" not in text
    assert "executorch reported no test in the `with` run" in text
