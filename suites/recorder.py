"""A pytest plugin that turns each test's phases into one verdict and writes the cell-run JSON.

Verdicts (docs/matrix-schema.md): pass, fail, xfail (with the reason), n/a (a skip whose reason starts
with "n/a: "), error (setup/teardown/collection failure, or any other skip: a silent skip is not a verdict).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest

NA_PREFIX = "n/a: "


def suite_of(nodeid: str) -> str:
    """`suites/test_export.py::test_x[...]` -> `export`."""
    return Path(nodeid.split("::")[0]).stem.removeprefix("test_")


def error_line(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """The first line of the crash message, cut to 400 characters."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    # "backend='inductor' raised:" says nothing alone; the cause is on the next line.
    head = " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return head[:400]


def phase_verdict(report: pytest.TestReport) -> tuple[str, str | None, str | None]:
    """(verdict, reason, error) for one phase report."""
    if hasattr(report, "wasxfail"):
        return "xfail", report.wasxfail, report.wasxfail
    if report.passed:
        return "pass", None, None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NA_PREFIX):
            return "n/a", reason.removeprefix(NA_PREFIX), None
        return "error", None, f"unexpected skip (a skip must be n/a with its reason): {reason}"
    return ("fail" if report.when == "call" else "error"), None, error_line(report)


class VerdictRecorder:
    """Collects one record per test and writes them, with the environment, to `results_path`."""

    def __init__(self, registration: str, results_path: str | None, helpers_called: list[str]) -> None:
        self.registration = registration
        self.results_path = results_path
        self.helpers_called = helpers_called
        self.records: dict[str, dict[str, Any]] = {}

    def _record(self, nodeid: str, name: str) -> dict[str, Any]:
        return self.records.setdefault(
            nodeid,
            {"suite": suite_of(nodeid), "name": name, "verdict": None, "duration_s": 0.0,
             "reason": None, "error": None, "metrics": {}},
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold setup/call/teardown into one record: a failing phase overrides a passing one."""
        record = self._record(report.nodeid, report.nodeid.split("::", 1)[-1])
        record["duration_s"] = round(record["duration_s"] + report.duration, 3)
        record["metrics"].update(dict(report.user_properties))
        verdict, reason, error = phase_verdict(report)
        if report.when == "teardown" and verdict == "pass":
            return
        record.update(verdict=verdict, reason=reason, error=error)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that cannot be collected is an `error` for its suite, not a silent gap."""
        if report.failed:
            record = self._record(report.nodeid, f"collect {report.nodeid}")
            record.update(verdict="error", error=error_line(report))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the `kvcc-cell-run/1` JSON atomically."""
        if not self.results_path:
            return
        import torch
        import transformers

        import compat
        from suites.models import layout

        payload = {
            "schema": "kvcc-cell-run/1",
            "registration": self.registration,
            "python": platform.python_version(),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "layout": layout(),
            "transformers_helpers_called": self.helpers_called,
            "registration_report": [r.to_json() for r in compat.registration_report()],
            "tests": list(self.records.values()),
        }
        out = Path(self.results_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1))
        tmp.replace(out)
