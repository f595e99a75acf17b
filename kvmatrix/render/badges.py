"""shields.io endpoint badges (`reports/badges/*.json`) summarising a matrix and its answers (uses.json).

Each file follows the endpoint format (`schemaVersion` 1, `label`, `message`, `color`, optional `isError`,
`cacheSeconds`) and is shown with `https://img.shields.io/endpoint?url=<raw URL of the file>` (badge_snippet).
The answer badges count uses that work by their best route (kvmatrix.record.uses); the suite and layout badges
count pairs by their verdict **with** `compat.register()`, and say so in their label. docs/badges.md lists
every file and what it means.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote

from kvmatrix.record.answers import pair_order
from kvmatrix.record.uses import ANSWERS, WITH_COMPAT, WORKING
from kvmatrix.record.verdicts import (
    CLIENT_DID_NOT_RUN,
    ERROR,
    FAIL,
    INFRA,
    NA,
    PASS,
    RAN,
    ROLL_UP,
)

LAYOUTS = ("list", "list-module", "layer")
CACHE_SECONDS = 3600
WITH_REGISTRATION = "with compat"
"""What the verdict badges' labels add: they count the runs with `compat.register()` only."""
RAW_URL = "https://raw.githubusercontent.com/kv-cache-compat/kv-cache-compat/main/"
PAGES_URL = "https://kv-cache-compat.github.io/kv-cache-compat/"
"""The deployed report page (reports/ on GitHub Pages, .github/workflows/matrix.yml)."""
SHIELDS_ENDPOINT = "https://img.shields.io/endpoint?url="


def pair_verdict(cell: dict[str, Any], suites: list[str]) -> str:
    """The most severe `with`-registration verdict of `cell` over `suites` (error when none is recorded); a
    client suite whose client did not run (CLIENT_DID_NOT_RUN, with the client's `reason`) counts only when it
    is all there is: an ExecuTorch that cannot be installed with this torch says nothing about the other
    suites, while one that installed and crashed before reporting a test is an `error` of the pair."""
    summaries = [cell["suites"].get(suite, {}).get("with", {}) for suite in suites]
    ran = [s for s in summaries if not ("reason" in s and s.get("verdict") in CLIENT_DID_NOT_RUN)]
    found = {summary.get("verdict") for summary in ran or summaries}
    return next((verdict for verdict in ROLL_UP if verdict in found), ERROR)


def badge(label: str, verdicts: list[str]) -> dict[str, Any]:
    """The endpoint JSON for the pairs whose verdicts are `verdicts`: the message counts them by verdict
    (most severe first) and the colour says how many pass (flaky, setup and xfail pairs make it yellow).
    `isError` is set when no pair gave an answer (all are `error` or `infra`: the run itself broke); no pair
    at all is a grey "no pair"."""
    if not verdicts:
        return endpoint(label, "no pair", "lightgrey")
    counts = Counter(verdicts)
    message = " · ".join(f"{counts[verdict]} {verdict}" for verdict in ROLL_UP if counts[verdict])
    result = endpoint(label, message, _color(counts))
    if set(counts) <= {ERROR, INFRA}:
        result["isError"] = True
    return result


def endpoint(label: str, message: str, color: str) -> dict[str, Any]:
    """One endpoint response, cached by shields for CACHE_SECONDS (the matrix changes weekly at most)."""
    return {"schemaVersion": 1, "label": label, "message": message, "color": color, "cacheSeconds": CACHE_SECONDS}


def _color(counts: Counter[str]) -> str:
    if set(counts) <= {PASS, NA}:
        return "brightgreen"
    if not counts[ERROR] and not counts[FAIL]:
        return "yellow"
    return "orange" if counts[PASS] else "red"


def badges(matrix: dict[str, Any], uses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every badge of `matrix` by file name, from `uses` (its answers file, uses.json): the README's three (`uses-newest.json`, `compat-regressions.json`, `published.json`), the answer
    badges (use_badges, pair_badges), and per suite and per cache layout the pairs' verdicts with
    `compat.register()` (`suite-<suite>.json`, `layout-<layout>.json`)."""
    cells, suites = matrix["cells"], matrix["suites"]
    files = {"compat-regressions.json": compat_regressions_badge(matrix), "published.json": published_badge(matrix)}
    for suite in suites:
        files[f"suite-{suite}.json"] = badge(f"{suite} ({WITH_REGISTRATION})",
                                             [pair_verdict(cell, [suite]) for cell in cells])
    for layout in LAYOUTS:
        members = [pair_verdict(cell, suites) for cell in cells if cell["layout"] == layout]
        files[f"layout-{layout}.json"] = badge(f"{layout} layout ({WITH_REGISTRATION})", members)
    files.update(use_badges(uses))
    files.update(pair_badges(matrix, uses))
    return files


def answers_badge(label: str, answers: list[str], unit: str) -> dict[str, Any]:
    """The endpoint JSON counting `answers` (kvmatrix.record.uses) that work: "W/N <unit> · C need compat"
    over the answers of cells that ran where the feature exists (n/a, and the status of a cell or client that
    did not run, are left out); green only when all work, red when none does, else yellow from half on."""
    counted = [found for found in answers if found in ANSWERS and found != NA]
    working = [found for found in counted if found in WORKING]
    if not counted:
        return endpoint(label, "no answer", "lightgrey")
    need = sum(found == WITH_COMPAT for found in working)
    message = f"{len(working)}/{len(counted)} {unit}" + (f" · {need} need compat" if need else "")
    color = ("brightgreen" if len(working) == len(counted) else "red" if not working
             else "yellow" if 2 * len(working) >= len(counted) else "orange")
    return endpoint(label, message, color)


def use_badges(uses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`uses.json` (every use in every pair: how many of those answers work) and `use-<key>.json` per use
    (in how many pairs it works), from a uses.json document."""
    def answers(use: dict[str, Any]) -> list[str]:
        return [use["answers"][pair]["answer"] for pair in uses["pairs"]]

    every = [found for use in uses["uses"] for found in answers(use)]
    files = {"uses.json": answers_badge("uses that work, every pair", every, "answers")}
    for use in uses["uses"]:
        files[f"use-{use['key']}.json"] = answers_badge(use["title"], answers(use), "pairs")
    return files


def newest_pair(matrix: dict[str, Any]) -> dict[str, Any] | None:
    """The cell of `matrix` with the newest transformers, then the newest torch (by version: `4.57.6` is
    older than `5.0.0`, `2.9.1` than `2.13.0`, whatever the pins' order); None for an empty matrix."""
    return max(matrix["cells"], default=None,
               key=lambda cell: pair_order(cell["pins"]["transformers"], cell["pins"]["torch"]))


def _pair_label(cell: dict[str, Any]) -> str:
    return f"transformers {cell['pins']['transformers']} · torch {cell['pins']['torch']}"


def pair_badges(matrix: dict[str, Any], uses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`pair-<cell id>.json` per pair (how many uses work in it) and `uses-newest.json`, the same count for
    the newest pair (newest_pair), for the README: what works if you take the newest releases tested."""
    def in_pair(cell: dict[str, Any]) -> list[str]:
        return [use["answers"][cell["id"]]["answer"] for use in uses["uses"]]

    files = {f"pair-{cell['id']}.json": answers_badge(_pair_label(cell), in_pair(cell), "uses")
             for cell in matrix["cells"]}
    newest = newest_pair(matrix)
    files["uses-newest.json"] = (answers_badge(f"newest: {_pair_label(newest)}", in_pair(newest), "uses")
                                 if newest else endpoint("newest pair", "no pair", "lightgrey"))
    return files


def compat_regressions_badge(matrix: dict[str, Any]) -> dict[str, Any]:
    """How many tests fail with `compat.register()` where they pass without it, over every cell
    (`compat_regressions`): `0` is green, any other count red. A matrix in which no cell ran has nothing to
    compare, so it says so in grey rather than a green `0`."""
    if not any(cell["status"] == RAN for cell in matrix["cells"]):
        return endpoint("compat regressions", "no pair ran", "lightgrey")
    count = sum(len(cell["compat_regressions"]) for cell in matrix["cells"])
    return endpoint("compat regressions", str(count), "brightgreen" if count == 0 else "red")


def published_badge(matrix: dict[str, Any]) -> dict[str, Any]:
    """The date the matrix was published (its `generated_at`, UTC). Blue whatever the date: the file is
    written once per publish, so a colour for its age would be the age on the publish day, not the reader's."""
    return endpoint("published", matrix["generated_at"][:10], "blue")


def badge_url(name: str, reports: str = "reports") -> str:
    """The shields.io image URL of badge file `name` of the reports folder `reports` (relative to the
    repository root: `reports`, `reports/latest`, `reports/full`), read from the default branch."""
    return SHIELDS_ENDPOINT + quote(f"{RAW_URL}{reports}/badges/{name}", safe="")


def badge_snippet(name: str, alt: str, link: str = PAGES_URL, reports: str = "reports") -> str:
    """The Markdown that shows badge file `name` (of `reports`, see badge_url) with alternative text `alt`,
    linking to `link` (the deployed page unless given), for a README to copy."""
    text = re.sub(r"([\\\[\]])", r"\\\1", alt)  # a bracket in a use's title would end the image's text
    return f"[![{text}]({badge_url(name, reports)})]({link})"
