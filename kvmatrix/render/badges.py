"""shields.io endpoint badges (`reports/badges/*.json`) summarising a matrix.

Each file follows the endpoint format (`schemaVersion` 1, `label`, `message`, `color`, optional `isError`,
`cacheSeconds`) and is shown with `https://img.shields.io/endpoint?url=<raw URL of the file>`. Badges
count (torch, transformers) pairs by their verdict **with** `compat.register()`, the configuration the
project ships: a pair's verdict for a group of suites is the most severe of its suite verdicts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kvmatrix.record.answers import uses_document
from kvmatrix.record.uses import ANSWERS, WITH_COMPAT, WORKING
from kvmatrix.record.verdicts import ERROR, FAIL, FLAKY, INFRA, NA, NOT_INSTALLABLE, PASS, SETUP, XFAIL

BADGE_ORDER = (ERROR, FAIL, INFRA, NOT_INSTALLABLE, FLAKY, SETUP, XFAIL, PASS, NA)
"""Verdicts from most to least severe, as badges roll them up and list them."""

LAYOUTS = ("list", "list-module", "layer")
CACHE_SECONDS = 3600
OVERALL_LABEL = "kv-cache matrix"


CLIENT_DID_NOT_RUN = frozenset({NOT_INSTALLABLE, NA, INFRA, SETUP})
"""Verdicts of a client suite that carries a `reason` because its client never ran: not installable with this
torch, not asked for (a record older than the client suites), its install hit the network, or it did not
import in the environment we made for it. A client that
ran and reported no test also carries a reason, with verdict `error`: that is a crash, and it counts."""


def pair_verdict(cell: dict[str, Any], suites: list[str]) -> str:
    """The most severe `with`-registration verdict of `cell` over `suites` (error when none is recorded); a
    client suite whose client did not run (CLIENT_DID_NOT_RUN, with the client's `reason`) counts only when it
    is all there is: an ExecuTorch that cannot be installed with this torch says nothing about the other
    suites, while one that installed and crashed before reporting a test is an `error` of the pair."""
    summaries = [cell["suites"].get(suite, {}).get("with", {}) for suite in suites]
    ran = [s for s in summaries if not ("reason" in s and s.get("verdict") in CLIENT_DID_NOT_RUN)]
    found = {summary.get("verdict") for summary in ran or summaries}
    return next((verdict for verdict in BADGE_ORDER if verdict in found), ERROR)


def badge(label: str, verdicts: list[str]) -> dict[str, Any]:
    """The endpoint JSON for the pairs whose verdicts are `verdicts`: the message counts them by verdict
    (most severe first) and the colour says how many pass (flaky, setup and xfail pairs make it yellow).
    `isError` is set when no pair gave an answer (all are `error` or `infra`: the run itself broke); no pair
    at all is a grey "no pair"."""
    if not verdicts:
        return {
            "schemaVersion": 1,
            "label": label,
            "message": "no pair",
            "color": "lightgrey",
            "cacheSeconds": CACHE_SECONDS,
        }
    counts = Counter(verdicts)
    message = " · ".join(f"{counts[verdict]} {verdict}" for verdict in BADGE_ORDER if counts[verdict])
    result = {
        "schemaVersion": 1,
        "label": label,
        "message": message,
        "color": _color(counts),
        "cacheSeconds": CACHE_SECONDS,
    }
    if set(counts) <= {ERROR, INFRA}:
        result["isError"] = True
    return result


def _color(counts: Counter[str]) -> str:
    if set(counts) <= {PASS, NA}:
        return "brightgreen"
    if not counts[ERROR] and not counts[FAIL]:
        return "yellow"
    return "orange" if counts[PASS] else "red"


def badges(matrix: dict[str, Any], uses: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every badge of `matrix` by file name: `overall.json`, `suite-<suite>.json` per suite,
    `layout-<layout>.json` per cache layout (list, list-module, layer), and the use badges (use_badges) from
    `uses` (uses.json; none: the answers of this matrix alone)."""
    cells, suites = matrix["cells"], matrix["suites"]
    files = {"overall.json": badge(OVERALL_LABEL, [pair_verdict(cell, suites) for cell in cells])}
    for suite in suites:
        files[f"suite-{suite}.json"] = badge(suite, [pair_verdict(cell, [suite]) for cell in cells])
    for layout in LAYOUTS:
        members = [pair_verdict(cell, suites) for cell in cells if cell["layout"] == layout]
        files[f"layout-{layout}.json"] = badge(f"{layout} layout", members)
    files.update(use_badges(uses or uses_document(matrix)))
    return files


def use_badge(label: str, answers: list[str]) -> dict[str, Any]:
    """The endpoint JSON counting `answers` (kvmatrix.record.uses, one per use and pair) that work: "W of N
    work · C need compat" over the answers of pairs that ran and have the feature (n/a and cells that did
    not run are left out); green when all work, red when none does."""
    counted = [found for found in answers if found in ANSWERS and found != NA]
    working = [found for found in counted if found in WORKING]
    if not counted:
        return {"schemaVersion": 1, "label": label, "message": "no pair", "color": "lightgrey",
                "cacheSeconds": CACHE_SECONDS}
    need = sum(found == WITH_COMPAT for found in working)
    message = f"{len(working)} of {len(counted)} work" + (f" · {need} need compat" if need else "")
    color = ("brightgreen" if len(working) == len(counted) else "red" if not working
             else "yellow" if 2 * len(working) >= len(counted) else "orange")
    return {"schemaVersion": 1, "label": label, "message": message, "color": color, "cacheSeconds": CACHE_SECONDS}


def use_badges(uses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`uses.json` (every use in every pair: how many work) and `use-<key>.json` per use (in how many
    pairs it works), from a uses.json document."""
    def answers(use: dict[str, Any]) -> list[str]:
        return [use["answers"][pair]["answer"] for pair in uses["pairs"]]

    files = {"uses.json": use_badge("uses that work", [found for use in uses["uses"] for found in answers(use)])}
    for use in uses["uses"]:
        files[f"use-{use['key']}.json"] = use_badge(use["title"], answers(use))
    return files
