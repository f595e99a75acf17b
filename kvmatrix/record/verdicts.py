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
"""Its outcomes differed between fresh-process runs (kvmatrix.run.process.reruns); the reason gives the rate."""
SETUP = "setup"
"""The test's own eager step (prefill, eager reference) failed: it says nothing about the tool under test."""

TEST_VERDICTS = (PASS, FAIL, XFAIL, NA, ERROR, FLAKY, SETUP)
"""Verdicts a single test can have, in the key order of a suite's `counts`."""

SEVERITY = (ERROR, FAIL, FLAKY, SETUP, XFAIL, PASS, NA)
"""Test verdicts, most severe first: a suite's verdict is the first one any of its tests has."""
ROLL_UP = (ERROR, FAIL, INFRA, NOT_INSTALLABLE, FLAKY, SETUP, XFAIL, PASS, NA)
"""Every verdict, most severe first, as badges roll them up and list them."""
LISTED = (ERROR, FAIL, FLAKY, SETUP, XFAIL)
"""Test verdicts that did not pass, most severe first: matrix.md's Failures and the page's details list them
(the page reads them from its data, kvmatrix.render.page_data)."""
RERUN = (FAIL, ERROR, XFAIL, SETUP)
"""First verdicts that get a re-run (kvmatrix.run.process.reruns)."""
REGRESSING = (FAIL, ERROR, XFAIL)
"""Verdicts with registration that make a test passing without it a compat regression (never flaky or
setup: those are not answers about compat)."""
FAILING = (FAIL, ERROR, NOT_INSTALLABLE, INFRA)
"""Suite verdicts that count as failing: a move into one of them from outside is "newly failing". `flaky`
and `setup` are not among them: a suite or test becoming flaky or setup is never a regression."""
FAILING_TESTS = (FAIL, ERROR)
"""Test verdicts that count as failing."""
CLIENT_DID_NOT_RUN = frozenset({NOT_INSTALLABLE, NA, INFRA, SETUP})
"""Verdicts of a client suite that carries a `reason` because its client never ran: not installable with this
torch, not asked for (a record older than the client suites), its install hit the network, or it did not
import in the environment we made for it. A client that ran and reported no test also carries a reason, with
verdict `error`: that is a crash, and it counts."""
LABELS = {
    PASS: "✅ pass",
    FAIL: "❌ fail",
    FLAKY: "🎲 flaky",
    SETUP: "🧰 setup",
    XFAIL: "⚠️ xfail",
    NA: "➖ n/a",
    ERROR: "💥 error",
    NOT_INSTALLABLE: "🚫 not-installable",
    INFRA: "🌐 infra",
}
"""Each verdict as the reports show it, in the legend's order."""
MEANINGS = {
    PASS: "ran export/compile/round-trip for real and every assertion held",
    FAIL: "ran, and an assertion or the tool under test failed",
    FLAKY: "passed in some fresh-process runs and not in others; the reason gives the rate (never a pass)",
    SETUP: "the test's own eager step (prefill, eager reference) failed: not a verdict on the tool",
    XFAIL: "a known limitation; the reason quotes the real error",
    NA: "the feature or class does not exist in this (torch, transformers) pair",
    ERROR: "crashed before giving an answer (collection error, segfault, timeout)",
    NOT_INSTALLABLE: "cell only: the pins cannot be resolved or installed together",
    INFRA: "cell only: a network or index failure while installing, after retries",
}
"""What each verdict means, in the legend's order."""

CELL_STATUSES = (RAN, NOT_INSTALLABLE, INFRA, ERROR)
CLIENT_STATUSES = (*CELL_STATUSES, SETUP)
"""A client's status in a cell's `clients`: a cell's, or `setup`: it installed, but the client's modules do
not import in the environment we made for it (kvmatrix.run.clients.import_failure): our environment failed,
so its suite gives no verdict on the client."""
MODES = ("with", "without")
"""Registration modes every cell runs: suites run after `compat.register()`, and with transformers alone."""
TICO_MODE = "tico"
"""The optional third run: the core suites after TICO's own registration (tico.utils.pytree_utils) instead
of `compat.register()`, in the cell's tico environment (kvmatrix.run.clients), to compare the two per test
(kvmatrix.record.causes.compare_with_tico)."""
RECORDED_MODES = (*MODES, TICO_MODE)
"""Every mode a cell's runs may hold, in the order they are summarised and shown."""
CLIENT_SUITES = ("executorch", "tico", "onnx")
"""Suites that run a client of exported programs (ExecuTorch's runtime, TICO's Circle converter, ONNX and
onnxruntime): a cell
records in `clients` whether each could be installed and run, and the TICO run does not repeat them."""
NOT_IN_TICO_MODE = (*CLIENT_SUITES, "decompose", "families")
"""Suites the TICO run leaves out: the clients', the decomposition of the export suite's programs and the model
families (TICO's registration is compared with compat's on the core suites' export, round-trip and compile
routes; what lowers and which family works is answered with transformers' registration or compat's)."""

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


def summarize_suites(runs: dict[str, dict[str, Any]], suites: list[str], status: str,
                     clients: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The cell's `suites` section: for each suite and mode, its verdict and counts.

    `runs` maps a mode ("with"/"without", and "tico" where the cell ran it) to a run (a dict with `tests`).
    For a cell whose `status` is not "ran", every suite gets that status with empty counts. A mode of MODES
    without a run gets "error" with empty counts; the `tico` mode appears only where its run exists, for
    every suite but NOT_IN_TICO_MODE's. A suite with no test in its mode's run gets "error" with all counts
    zero (with the client's `reason` for a client suite: why its run reported no test). A client suite whose
    client (`clients`, by suite name) did not run gets that client's status and `reason` in each mode instead; in a record without `clients` (written before the client suites existed,
    so they were never asked for) a client suite with no test is `n/a` with that reason.
    """
    if status not in CELL_STATUSES:
        raise ValueError(f"unknown cell status {status!r}; expected one of {', '.join(CELL_STATUSES)}")
    summary: dict[str, Any] = {}
    for suite in suites:
        client = (clients or {}).get(suite) or {}
        modes = [*MODES, *([TICO_MODE] if TICO_MODE in runs and suite not in NOT_IN_TICO_MODE else [])]
        summary[suite] = {}
        for mode in modes:
            if status != RAN:
                summary[suite][mode] = {"verdict": status, "counts": {}}
            elif client.get("status", RAN) != RAN:
                summary[suite][mode] = {"verdict": client["status"], "counts": {}, "reason": client.get("reason")}
            elif clients is None and suite in CLIENT_SUITES and not _suite_tests(runs.get(mode, {}), suite):
                summary[suite][mode] = {"verdict": NA, "counts": {}, "reason": PREDATES_CLIENTS}
            elif mode not in runs:
                summary[suite][mode] = {"verdict": ERROR, "counts": {}}
            else:
                tests = _suite_tests(runs[mode], suite)
                summary[suite][mode] = {"verdict": suite_verdict(tests), "counts": count_verdicts(tests)}
                if not tests and client.get("reason"):
                    summary[suite][mode]["reason"] = client["reason"]
    return summary


PREDATES_CLIENTS = "not run: the cell's record was written before the client suites existed"


def _suite_tests(run: dict[str, Any], suite: str) -> list[dict[str, Any]]:
    """The tests of `suite` in `run`."""
    return [test for test in run.get("tests", []) if test.get("suite") == suite]


def error_signature(message: str) -> str:
    """A grouping key for a one-line error: first line, hex addresses and digits removed, whitespace
    collapsed, cut to 160 characters (the normalisation PyTorch HUD uses to group similar failures)."""
    lines = [line for line in message.splitlines() if line.strip()]
    text = _DIGITS.sub("", _HEX.sub("", lines[0] if lines else ""))
    return _SPACE.sub(" ", text).strip()[:SIGNATURE_LENGTH]
