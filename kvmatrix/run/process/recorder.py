"""A pytest plugin (`-p kvmatrix.run.process.recorder`) that turns each test's phases into one verdict and writes the
cell-run JSON (docs/matrix-schema.md).

Verdicts: pass, fail, xfail (with the reason), n/a (a skip whose reason starts with "n/a: "), setup (the
test's own eager step or a fixture failed: kvmatrix.run.process.attribution), error (teardown/collection failure, a
crashed or timed-out test, memory exhaustion, or any other skip: a silent skip is not a verdict). Crash
isolation comes from the ecosystem's tools: pytest-xdist restarts a worker that dies (segfault, abort, OOM
kill) and reports the test it was running; pytest-timeout fails a test that hangs, and kvmatrix.run.process.hang_guard
ends the process of one stuck where pytest-timeout cannot reach (C code). Only the xdist controller (or a
plain pytest process) records and writes; a worker sends the cell description (layout, registration
report) to it when it finishes.

Environment: KVCC_REGISTRATION (with/without, recorded), KVCC_RESULTS (output path; unset = not written),
KVCC_MEMORY_LIMIT_GB (data-segment limit per process, so a runaway allocation raises MemoryError instead
of taking the machine down).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.record.columns import suite_of
from kvmatrix.record.paths import short_path
from kvmatrix.record.verdicts import ERROR, FAIL, NA, PASS, SETUP, XFAIL
from kvmatrix.run.process.attribution import RECORD_FIELDS
from kvmatrix.run.process.hang_guard import hang_report
from kvmatrix.settings import setting

NA_PREFIX = "n/a: "
ENVIRONMENT = pytest.StashKey[Callable[[], dict[str, Any]]]()
"""Where a conftest puts a callable describing the cell (layout, registration report) for the results."""


def registration_entry(fields: dict[str, Any]) -> dict[str, Any]:
    """A `registration_report` entry of the record from one compat ClassReport's fields
    (`dataclasses.asdict`): the library's `name` is the schema's `class`, written last as it always was."""
    return {**{key: value for key, value in fields.items() if key != "name"}, "class": fields["name"]}


WORKER_ENVIRONMENT = "kvcc_environment"
"""The key under which an xdist worker sends that description to the controller (`config.workeroutput`)."""


BARE_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)$")
"""An error message that is only an exception's name, as a bare `assert` inside a library leaves it."""


def crash_location(path: str, lineno: int) -> str:
    """`torch/export/_trace.py:1234`: the crash's file from its package on (after `site-packages/`), or
    relative to the working directory (the repository) when it is not installed code."""
    return f"{short_path(path)}:{lineno}"


def error_line(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """The first line of the crash message (with the cause when the first line only announces it, and with
    where it was raised when the message is only the exception's name)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    # "backend='inductor' raised:" says nothing alone; the cause is on the next line.
    head = " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    if crash is not None and BARE_EXCEPTION.match(head):
        head = f"{head} at {crash_location(str(crash.path), crash.lineno)}"
    return head[:400]


TRACEBACK_LINES = 60
"""The last lines of a failing phase's pytest traceback kept in the record (the detail file only)."""


def traceback_tail(report: pytest.TestReport) -> str | None:
    """The last TRACEBACK_LINES lines of a failing phase's traceback as the run prints it (Python's native form,
    kvmatrix.run.process.pytest_run.pytest_options), None when the phase has none; the host rewrites absolute paths in
    it like everywhere else in the record."""
    text = getattr(report, "longreprtext", "") or ""
    lines = text.rstrip().splitlines()
    if not lines:
        return None
    kept = lines[-TRACEBACK_LINES:]
    if len(lines) > TRACEBACK_LINES:
        kept.insert(0, f"... {len(lines) - TRACEBACK_LINES} earlier lines trimmed ...")
    return "\n".join(kept)


HUNG = "the test hung past its timeout"
WORKER_CRASHED = re.compile(r"^worker '\w+' crashed while running")
# A failure whose first error line matches one of these did not answer the question: it is an error.
NOT_AN_ANSWER = (
    (WORKER_CRASHED, "the test process died (crash, abort or kill)"),
    (re.compile(r"Timeout \(>[\d.]+s\) from pytest-timeout"), HUNG),
    (re.compile(r"^MemoryError\b"), "the test exhausted its memory limit"),
)


def phase_verdict(report: pytest.TestReport) -> tuple[str, str | None, str | None]:
    """(verdict, reason, error) for one phase report."""
    if hasattr(report, "wasxfail"):
        return XFAIL, report.wasxfail, report.wasxfail
    if report.passed:
        return PASS, None, None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NA_PREFIX):
            return NA, reason.removeprefix(NA_PREFIX), None
        return ERROR, None, f"unexpected skip (a skip must be n/a with its reason): {reason}"
    error = error_line(report) or ""
    hung = hang_report(report.nodeid) if WORKER_CRASHED.search(error) else None
    if hung is not None:  # the hang guard (kvmatrix.run.process.hang_guard) stopped it
        return ERROR, HUNG, f"{HUNG}: {hung}"
    for pattern, meaning in NOT_AN_ANSWER:
        if pattern.search(error):
            return ERROR, meaning, f"{meaning}: {error}"
    return (FAIL if report.when == "call" else ERROR), None, error


def attribution(cause: str | None = None, cause_detail: str | None = None,
                upstream: str | None = None) -> dict[str, str | None]:
    """A record's `cause`, `cause_detail` and `upstream` (all None for a test that passed or is n/a)."""
    return {"cause": cause, "cause_detail": cause_detail, "upstream": upstream}


class VerdictRecorder:
    """Collects one record per test and writes them, with the environment, to `results_path`."""

    def __init__(self, registration: str, results_path: str | None) -> None:
        self.registration = registration
        self.results_path = results_path
        self.records: dict[str, dict[str, Any]] = {}
        self.collected: list[str] = []
        self.worker_environment: dict[str, Any] | None = None
        self.started_at: float | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Remember when the session started (the benchmark sets it against the cell's wall time)."""
        self.started_at = time.time()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Keep the cell description an xdist worker sent when it finished (a crashed worker sends none;
        the worker that replaced it does)."""
        sent = getattr(node, "workeroutput", {}).get(WORKER_ENVIRONMENT)
        if sent is not None:
            self.worker_environment = sent

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Remember what a plain (no xdist) run collected."""
        self.collected.extend(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Remember what the xdist workers collected (the controller collects nothing itself)."""
        self.collected.extend(nodeid for nodeid in ids if nodeid not in self.collected)

    def _never_ran(self) -> None:
        """A collected test with no report (xdist gave up restarting crashed workers, or the session was
        interrupted) is an `error`, listed by name, never a silent gap."""
        for nodeid in self.collected:
            if nodeid not in self.records:
                record = self._record(nodeid, nodeid.split("::", 1)[-1])
                reason = "not run: the session stopped before this test (e.g. its workers kept crashing)"
                record.update(verdict=ERROR, reason=reason, error=reason,
                              **attribution("unattributed", f"no attribution: {reason}"))

    def _record(self, nodeid: str, name: str) -> dict[str, Any]:
        return self.records.setdefault(
            nodeid,
            {"suite": suite_of(nodeid), "name": name, "verdict": None, "duration_s": 0.0,
             "reason": None, "error": None, **attribution(), "metrics": {}, "traceback": None},
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold setup/call/teardown into one record: a failing phase overrides a passing one. The
        attribution ladder's properties become the record's `cause`, `cause_detail` and `upstream`."""
        record = self._record(report.nodeid, report.nodeid.split("::", 1)[-1])
        record["duration_s"] = round(record["duration_s"] + report.duration, 3)
        properties = dict(report.user_properties)
        ladder = {field: properties.pop(key) for key, field in RECORD_FIELDS.items() if key in properties}
        record["metrics"].update(properties)
        verdict, reason, error = phase_verdict(report)
        if report.when == "teardown" and verdict == PASS:
            self._progress()
            return
        if verdict in (PASS, NA):
            found = attribution()
        elif verdict == ERROR and reason is not None:  # a crash, hang or memory exhaustion: no ladder ran
            found = attribution("unattributed", f"no attribution: {reason}")
        elif ladder.get("cause") == "setup":
            verdict, found = SETUP, attribution(**ladder)
        elif "cause" not in ladder:
            found = attribution("unattributed", f"no attribution for a failed {report.when}")
        else:
            found = attribution(**ladder)
        record.update(verdict=verdict, reason=reason, error=error, **found)
        if verdict not in (PASS, NA, XFAIL):
            record["traceback"] = traceback_tail(report)
        if report.when == "teardown":
            self._progress()

    def _progress(self) -> None:
        """Rewrite `<results>.progress` ("done collected") so the host can say how far the run is."""
        if self.results_path:
            done = sum(record["verdict"] is not None for record in self.records.values())
            Path(f"{self.results_path}.progress").write_text(f"{done} {len(self.collected)}\n")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that cannot be collected is an `error` for its suite, not a silent gap."""
        if report.failed:
            record = self._record(report.nodeid, f"collect {report.nodeid}")
            record.update(verdict=ERROR, error=error_line(report))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the `kvcc-cell-run/1` JSON atomically."""
        if not self.results_path:
            return
        self._never_ran()
        describe = session.config.stash.get(ENVIRONMENT, None)
        payload = {
            "schema": "kvcc-cell-run/1",
            "registration": self.registration,
            "python": platform.python_version(),
            "versions": {name: _version(name) for name in ("torch", "transformers")},
            **(describe() if describe is not None else self.worker_environment or {}),
            "session_started_at": self.started_at,
            "session_finished_at": time.time(),
            "tests": list(self.records.values()),
        }
        out = Path(self.results_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1))
        tmp.replace(out)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _limit_memory() -> None:
    gigabytes = setting("KVCC_MEMORY_LIMIT_GB")
    if gigabytes:
        limit = int(float(gigabytes) * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker, send the cell's description (the conftest's, if any) to the controller."""
    config = session.config
    describe = config.stash.get(ENVIRONMENT, None)
    if hasattr(config, "workeroutput") and describe is not None:
        config.workeroutput[WORKER_ENVIRONMENT] = describe()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Limit memory in every process; record only in the controller (xdist workers report to it)."""
    _limit_memory()
    if hasattr(config, "workerinput"):
        return
    registration = setting("KVCC_REGISTRATION")
    config.pluginmanager.register(VerdictRecorder(registration, setting("KVCC_RESULTS")), "kvcc-recorder")
