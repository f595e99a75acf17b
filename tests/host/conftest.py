"""Fixtures for the host tests: a small pins file, full cell records built as in docs/matrix-schema.md, and
the matrix and detail files publish makes of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Pins, load_pins
from kvmatrix.record.detail import split
from kvmatrix.record.matrix import new_matrix
from kvmatrix.record.metrics import cell_metrics
from kvmatrix.record.verdicts import RAN, summarize_suites

SUITES = ["export", "roundtrip", "compile"]

PINS_TOML = """\
schema_version = 1
python = "3.11"

[[cell]]
transformers = "4.46.3"
torch = "2.5.1"
note = "list-based"

[[cell]]
transformers = "4.57.6"
torch = "2.13.0"
note = "layer-based on the newest torch"
tags = ["smoke"]

[[cell]]
transformers = "5.24.0"
torch = "2.13.0"
"""


@pytest.fixture
def suites() -> list[str]:
    """The suite columns of the fixture cells (a real run's come from kvmatrix.record.columns.discover_suites)."""
    return SUITES


def record(suite: str, name: str, verdict: str, error: str | None = None, reason: str | None = None) -> dict:
    """One test record as the in-cell recorder writes it."""
    return {
        "suite": suite, "name": name, "verdict": verdict, "duration_s": 0.5, "reason": reason, "error": error,
    }


def build_cell(
    transformers: str,
    torch: str,
    runs: dict[str, Any],
    status: str = RAN,
    status_reason: str | None = None,
    registration_report: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A full cell record as a cell run writes it; `suites` and `metrics` come from `runs`."""
    cell_id = f"tf{transformers}-torch{torch}"
    ran = status == RAN
    return {
        "id": cell_id,
        "pins": {"transformers": transformers, "torch": torch},
        "note": "",
        "tags": [],
        "status": status,
        "status_reason": status_reason,
        "python": "3.11.7" if ran else None,
        "resolved": {"torch": f"{torch}+cpu", "transformers": transformers} if ran else {},
        "freeze": [f"torch=={torch}+cpu", f"transformers=={transformers}"] if ran else [],
        "layout": "layer" if ran else None,
        "static_layer_init": "lazy(key)" if ran else None,
        "registration_report": registration_report or [],
        "compat_regressions": [],
        "runs": runs,
        "suites": summarize_suites(runs, SUITES, status),
        "metrics": cell_metrics(runs),
        "repro": f"nox -s 'cell({cell_id})'",
        "install_duration_s": 1.2,
        "duration_s": 95.4 if ran else 0.0,
    }


def example_runs() -> dict[str, Any]:
    """Export passes only with registration; roundtrip passes in both modes; compile is xfail in both."""
    leak = "TypeError: cannot flatten DynamicCache object at 0x7f3a2b1c0d10 (layer {n})"
    xfail = "known: torch.compile graph break on DynamicLayer.update (pytorch#123)"
    shared = [
        record("roundtrip", "test_roundtrip[DynamicCache]", "pass"),
        record("compile", "test_compile_decode[DynamicCache]", "xfail", error=xfail, reason=xfail),
    ]
    with_ = [
        record("export", "test_export[DynamicCache-strict]", "pass"),
        record("export", "test_export[DynamicCache-nonstrict]", "pass"),
        record("export", "test_export[StaticCache-strict]", "pass"),
        *shared,
    ]
    without = [
        record("export", "test_export[DynamicCache-strict]", "fail", error=leak.format(n=0)),
        record("export", "test_export[DynamicCache-nonstrict]", "fail",
               error=leak.format(n=1).replace("0x7f3a2b1c0d10", "0x55d0e4a1b2c0")),
        record("export", "test_export[StaticCache-strict]", "pass"),
        *shared,
    ]
    return {
        "with": {"exit_code": 0, "duration_s": 40.0, "log_tail": "", "tests": with_},
        "without": {"exit_code": 1, "duration_s": 41.0, "log_tail": "", "tests": without},
    }


REGISTRATION_REPORT = [
    {"class": "DynamicCache", "status": "registered", "owner": "compat", "reason": None},
    {"class": "StaticCache", "status": "already-registered", "owner": "transformers.integrations",
     "reason": None},
    {"class": "OffloadedCache", "status": "unsupported", "owner": None, "reason": "needs torch | newer"},
]


@pytest.fixture
def pins_file(tmp_path: Path) -> Path:
    """A valid three-cell pins file."""
    path = tmp_path / "pins.toml"
    path.write_text(PINS_TOML)
    return path


@pytest.fixture
def pins(pins_file: Path) -> Pins:
    """The loaded three-cell pins."""
    return load_pins(pins_file)


@pytest.fixture
def ran_cell() -> dict[str, Any]:
    """tf4.57.6-torch2.13.0, which ran both modes (see example_runs)."""
    return build_cell("4.57.6", "2.13.0", example_runs(), registration_report=REGISTRATION_REPORT)


@pytest.fixture
def uninstallable_cell() -> dict[str, Any]:
    """tf4.46.3-torch2.5.1, whose pins could not be installed together."""
    reason = "ResolutionImpossible: transformers 4.46.3 requires tokenizers<0.21,>=0.20"
    return build_cell("4.46.3", "2.5.1", {}, status="not-installable", status_reason=reason)


@pytest.fixture
def make_cell() -> Callable[..., dict[str, Any]]:
    """The cell builder, for tests that need their own cells."""
    return build_cell


Published = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def publish_records(pins: Pins, records: list[dict[str, Any]], generated_at: str = "2026-11-25T10:00:00Z",
                    suites: list[str] = SUITES) -> Published:
    """(the matrix, the details by cell id) of full cell `records`, split as publish splits them."""
    halves = [split(record) for record in records]
    matrix = new_matrix(pins, [summary for summary, _ in halves], generated_at, suites=suites)
    return matrix, {detail["id"]: detail for _, detail in halves}


@pytest.fixture
def published() -> Callable[..., Published]:
    """`publish_records`, for tests that build their own matrices."""
    return publish_records


@pytest.fixture
def matrix(both: tuple[dict, dict]) -> dict[str, Any]:
    """The matrix half of a module's `both` fixture (published matrix, its details)."""
    return both[0]


@pytest.fixture
def details(both: tuple[dict, dict]) -> dict[str, dict[str, Any]]:
    """The details half of a module's `both` fixture."""
    return both[1]
