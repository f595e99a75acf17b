"""Why a test did not pass: the `cause` alphabet of docs/matrix-schema.md, and the one cause the host
assigns itself, `compat` (a test that passes with transformers alone and fails after `compat.register()`),
with the cell's `compat_regressions` that list those tests; and the comparison of `compat.register()` with
TICO's own registration (the cell's `tico_advantages` and `compat_advantages`).

The in-cell attribution ladder (suites/) records `setup`, `not-cache`, `cache` and `unattributed`; runs
of older records lack the keys, which read as null. The ladder's `cause_detail` of a failed no-cache probe
starts with one of the prefixes below (kvmatrix.run.process.attribution writes them: the suites import no host code), which
kvmatrix.record.rederive reads back.
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.verdicts import PASS, REGRESSING, TICO_MODE

SETUP_CAUSE = "setup"
NOT_CACHE = "not-cache"
CACHE = "cache"
COMPAT = "compat"
UNATTRIBUTED = "unattributed"

CAUSE_MEANINGS = {
    SETUP_CAUSE: "the test's own eager step (prefill, eager reference) failed: not a verdict on the tool",
    NOT_CACHE: "the same tool on the same model without any cache (use_cache=False) fails the same way: the same "
    "exception type raised by the same function",
    CACHE: "fails this way only with a cache: without one the same step passes or fails differently, or the test "
    "is about the cache object",
    COMPAT: "passes with transformers alone, fails after compat.register(): a regression of this project",
    UNATTRIBUTED: "the attribution could not run (crash, hang, memory); the detail says why",
}
"""Every cause, with what it means, in the order the legends list them."""

SAME_WAY = "fails without any cache too, the same way: "
"""The detail of `not-cache`, then the probe's failure (`<Type>: <message> at <file>:<function>`)."""
DIFFERENTLY = "fails this way only with a cache: without a cache the same tool fails differently: "
"""The detail of `cache` where the probe failed otherwise, then the probe's failure."""
ANY_FAILURE = "fails without any cache too: "
"""The detail of `not-cache` from before the ladder compared failures (any probe failure), then the probe's
`<Type>: <message>` (kvmatrix.record.rederive)."""

COMPAT_DETAIL = "passes with transformers alone; fails after compat.register()"


def attribute_compat(runs: dict[str, Any]) -> list[dict[str, Any]]:
    """Give cause `compat` to each test of `runs["with"]` whose verdict is fail, error or xfail while the
    same test (suite and name) passes in `runs["without"]`; returns the cell's `compat_regressions`, one
    `{"suite", "name", "verdict", "error"}` per such test, in the order of the `with` run."""
    without = {
        (test.get("suite"), test.get("name")): test.get("verdict")
        for test in runs.get("without", {}).get("tests", [])
    }
    regressions = []
    for test in runs.get("with", {}).get("tests", []):
        if test.get("verdict") in REGRESSING and without.get((test.get("suite"), test.get("name"))) == PASS:
            test.update(cause=COMPAT, cause_detail=COMPAT_DETAIL)
            regressions.append({key: test.get(key) for key in ("suite", "name", "verdict", "error")})
    return regressions


def tico_pairs(runs: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(the test under TICO's registration, the same test under `compat.register()`) for each test (suite and
    name) that both the `tico` and the `with` run reported, in the order of the `tico` run; none without a
    `tico` run."""
    compat = {(test.get("suite"), test.get("name")): test for test in runs.get("with", {}).get("tests", [])}
    found = ((test, compat.get((test.get("suite"), test.get("name"))))
             for test in runs.get(TICO_MODE, {}).get("tests", []))
    return [(tico, twin) for tico, twin in found if twin is not None]


def passes_differ(pair: tuple[dict[str, Any], dict[str, Any]]) -> bool:
    """Whether a test of `tico_pairs` passes under one registration and not under the other."""
    return (pair[0].get("verdict") == PASS) != (pair[1].get("verdict") == PASS)


def compare_with_tico(runs: dict[str, Any]) -> dict[str, Any]:
    """The cell's comparison of `compat.register()` (`runs["with"]`) with TICO's own registration
    (`runs["tico"]`) over `tico_pairs`: `tico_advantages`, one `{"suite", "name", "verdict", "error"}` per
    test that passes with TICO's registration and not with compat (its verdict and error, or reason, are
    compat's), in the order of the `tico` run; and `compat_advantages`, how many tests pass with compat and
    not with TICO's registration. Empty ({}) for a cell without a `tico` run: there is nothing to compare."""
    if TICO_MODE not in runs:
        return {}
    differing = [pair for pair in tico_pairs(runs) if passes_differ(pair)]
    return {
        "tico_advantages": [{"suite": twin.get("suite"), "name": twin.get("name"), "verdict": twin.get("verdict"),
                             "error": twin.get("error") or twin.get("reason")}
                            for tico, twin in differing if tico.get("verdict") == PASS],
        "compat_advantages": sum(tico.get("verdict") != PASS for tico, _ in differing),
    }
