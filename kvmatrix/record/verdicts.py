"""The verdict alphabet of docs/matrix-schema.md and how tests roll up into suite verdicts."""

from __future__ import annotations

import re
from typing import Any

PASS = "pass"
FAIL = "fail"
XFAIL = "xfail"
NA = "n/a"
ERROR = "error"
NOT_INSTALLABLE = "not-installable"
INFRA = "infra"
RAN = "ran"
FLAKY = "flaky"
"""Its outcomes differed between fresh-process runs (kvmatrix.run.reruns); the reason gives the rate."""
SETUP = "setup"
"""The test's own eager step (prefill, eager reference) failed: it says nothing about the tool under test."""

TEST_VERDICTS = (PASS, FAIL, XFAIL, NA, ERROR, FLAKY, SETUP)
"""Verdicts a single test can have, in the key order of a suite's `counts`."""

SEVERITY = (ERROR, FAIL, FLAKY, SETUP, XFAIL, PASS, NA)
"""Test verdicts, most severe first: a suite's verdict is the first one any of its tests has."""

CELL_STATUSES = (RAN, NOT_INSTALLABLE, INFRA, ERROR)
MODES = ("with", "without")
"""Registration modes: suites run after `compat.register()`, and with transformers alone."""
TICO_MODE = "tico"
"""The third registration mode: the core suites run after TICO's own registration (tico.utils.pytree_utils),
in the cell's tico environment (kvmatrix.run.clients); not one of MODES, which every cell runs."""

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
SIGNATURE_LENGTH = 160


def _verdict_of(test: dict[str, Any]) -> str:
    """A test's verdict; anything outside the alphabet (a missing verdict included) counts as error."""
    verdict = test.get("verdict")
    return verdict if verdict in TEST_VERDICTS else ERROR


def suite_verdict(tests: list[dict[str, Any]]) -> str:
    """The most severe verdict among `tests` (error > fail > flaky > setup > xfail > pass > n/a); no test at
    all is error."""
    present = {_verdict_of(test) for test in tests}
    return next((verdict for verdict in SEVERITY if verdict in present), ERROR)


def count_verdicts(tests: list[dict[str, Any]]) -> dict[str, int]:
    """How many of `tests` have each test verdict, in TEST_VERDICTS order; a verdict no test has is left out
    (it would only repeat a zero in every suite of every cell); unknown verdicts count as error."""
    counts = dict.fromkeys(TEST_VERDICTS, 0)
    for test in tests:
        counts[_verdict_of(test)] += 1
    return {verdict: number for verdict, number in counts.items() if number}


def summarize_suites(runs: dict[str, dict[str, Any]], suites: list[str], status: str) -> dict[str, Any]:
    """The cell's `suites` section: for each suite and mode, its verdict and counts.

    `runs` maps a mode ("with"/"without") to a run (a dict with `tests`). For a cell whose `status` is not
    "ran", every suite gets that status with empty counts. A mode without a run gets "error" with empty
    counts; a suite with no test in its mode's run gets "error" with all counts zero.
    """
    if status not in CELL_STATUSES:
        raise ValueError(f"unknown cell status {status!r}; expected one of {', '.join(CELL_STATUSES)}")
    summary: dict[str, Any] = {}
    for suite in suites:
        summary[suite] = {}
        for mode in MODES:
            if status != RAN:
                summary[suite][mode] = {"verdict": status, "counts": {}}
            elif mode not in runs:
                summary[suite][mode] = {"verdict": ERROR, "counts": {}}
            else:
                tests = [test for test in runs[mode].get("tests", []) if test.get("suite") == suite]
                summary[suite][mode] = {"verdict": suite_verdict(tests), "counts": count_verdicts(tests)}
    return summary


def error_signature(message: str) -> str:
    """A grouping key for a one-line error: first line, hex addresses and digits removed, whitespace
    collapsed, cut to 160 characters (the normalisation PyTorch HUD uses to group similar failures)."""
    lines = [line for line in message.splitlines() if line.strip()]
    text = _DIGITS.sub("", _HEX.sub("", lines[0] if lines else ""))
    return _SPACE.sub(" ", text).strip()[:SIGNATURE_LENGTH]
