"""kvmatrix.render.badges: shields.io endpoint files, checked against the endpoint format shields documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.record.answers import uses_document
from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import USES
from kvmatrix.render.badges import (
    PAGES_URL,
    answers_badge,
    badge,
    badge_snippet,
    badges,
    compat_regressions_badge,
    newest_pair,
    pair_verdict,
    published_badge,
)

OPTIONAL_STRINGS = ("color", "labelColor", "namedLogo", "logoSvg", "logoColor", "style")


def endpoint_problems(data: Any) -> list[str]:
    """Why `data` is not a valid shields.io endpoint response (empty when it is): schemaVersion 1, string
    label and message; optional string color, labelColor, namedLogo, logoSvg, logoColor, style; boolean
    isError; number logoWidth; integer cacheSeconds of at least 300; no other key; not both namedLogo and
    logoSvg."""
    if not isinstance(data, dict):
        return ["not an object"]
    problems = []
    if data.get("schemaVersion") != 1 or type(data.get("schemaVersion")) is not int:
        problems.append("schemaVersion must be 1")
    for key in ("label", "message"):
        if not isinstance(data.get(key), str):
            problems.append(f"{key} must be a string")
    problems += [
        f"{key} must be a string"
        for key in OPTIONAL_STRINGS
        if key in data and not isinstance(data[key], str)
    ]
    if "isError" in data and not isinstance(data["isError"], bool):
        problems.append("isError must be a boolean")
    if "logoWidth" in data and (
        isinstance(data["logoWidth"], bool) or not isinstance(data["logoWidth"], int | float)
    ):
        problems.append("logoWidth must be a number")
    if "cacheSeconds" in data:
        seconds = data["cacheSeconds"]
        if type(seconds) is not int or seconds < 300:
            problems.append("cacheSeconds must be an integer >= 300")
    if "namedLogo" in data and "logoSvg" in data:
        problems.append("namedLogo and logoSvg are exclusive")
    known = {"schemaVersion", "label", "message", "isError", "logoWidth", "cacheSeconds", *OPTIONAL_STRINGS}
    problems += [f"unknown key {key}" for key in data if key not in known]
    return problems


VALID = {
    "schemaVersion": 1,
    "label": "matrix",
    "message": "3 pass",
    "color": "brightgreen",
    "cacheSeconds": 3600,
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schemaVersion": 2}, "schemaVersion must be 1"),
        ({"schemaVersion": True}, "schemaVersion must be 1"),
        ({"label": None}, "label must be a string"),
        ({"message": 3}, "message must be a string"),
        ({"isError": "true"}, "isError must be a boolean"),
        ({"cacheSeconds": 60}, "cacheSeconds must be an integer >= 300"),
        ({"cacheSeconds": 600.5}, "cacheSeconds must be an integer >= 300"),
        ({"namedLogo": "python", "logoSvg": "<svg/>"}, "namedLogo and logoSvg are exclusive"),
        ({"colour": "red"}, "unknown key colour"),
    ],
)
def test_the_endpoint_check_rejects_what_shields_rejects(change: dict, problem: str) -> None:
    assert endpoint_problems(VALID) == []
    assert problem in endpoint_problems({**VALID, **change})


def cell_with(
    make_cell, transformers: str, torch: str, verdict: str, layout: str = "layer"
) -> dict[str, Any]:
    """A ran cell whose every suite has `verdict` in both modes."""
    tests = [
        {
            "suite": s,
            "name": f"test_{s}",
            "verdict": verdict,
            "duration_s": 0.1,
            "reason": None,
            "error": None,
        }
        for s in ("export", "roundtrip", "compile")
    ]
    runs = {
        mode: {"exit_code": 0, "duration_s": 1.0, "log_tail": "", "tests": tests}
        for mode in ("with", "without")
    }
    return {**make_cell(transformers, torch, runs), "layout": layout}


@pytest.fixture
def matrix(pins: Pins, make_cell, ran_cell: dict, uninstallable_cell: dict, published) -> dict[str, Any]:
    cells = [uninstallable_cell, ran_cell, cell_with(make_cell, "5.24.0", "2.13.0", "pass", "list")]
    return published(pins, cells)[0]


def test_every_badge_file_is_a_valid_endpoint_response(matrix: dict) -> None:
    files = badges(matrix, uses_document(matrix))
    assert sorted(files) == sorted([
        "compat-regressions.json",
        "published.json",
        "uses-newest.json",
        *(f"pair-{cell['id']}.json" for cell in matrix["cells"]),
        "layout-layer.json",
        "layout-list-module.json",
        "layout-list.json",
        "suite-compile.json",
        "suite-export.json",
        "suite-roundtrip.json",
        *(f"use-{use.key}.json" for use in USES),
        "uses.json",
    ])
    for name, data in files.items():
        assert endpoint_problems(data) == [], name


def test_no_badge_rolls_every_suite_of_every_pair_into_one_verdict(matrix: dict) -> None:
    """overall.json said "N fail" in red for as long as any test of any pair failed, i.e. forever."""
    assert "overall.json" not in badges(matrix, uses_document(matrix))


def test_suite_badges_use_that_suite_only_and_say_they_count_the_runs_with_compat(matrix: dict) -> None:
    files = badges(matrix, uses_document(matrix))
    assert files["suite-export.json"]["message"] == "1 not-installable · 2 pass"
    assert files["suite-compile.json"]["message"] == "1 not-installable · 1 xfail · 1 pass"
    assert files["suite-export.json"]["label"] == "export (with compat)"
    assert files["layout-list.json"]["label"] == "list layout (with compat)"


def test_layout_badges_count_only_their_layout(matrix: dict) -> None:
    files = badges(matrix, uses_document(matrix))
    assert files["layout-layer.json"]["message"] == "1 xfail"
    assert (
        files["layout-list.json"]["message"] == "1 pass"
        and files["layout-list.json"]["color"] == "brightgreen"
    )
    assert files["layout-list-module.json"]["message"] == "no pair"
    assert files["layout-list-module.json"]["color"] == "lightgrey"


@pytest.mark.parametrize(
    ("verdicts", "color"),
    [
        (["pass", "n/a"], "brightgreen"),
        (["pass", "xfail"], "yellow"),
        (["pass", "flaky"], "yellow"),
        (["pass", "setup"], "yellow"),
        (["pass", "fail"], "orange"),
        (["fail", "error"], "red"),
    ],
)
def test_badge_colour_says_how_much_passes(verdicts: list[str], color: str) -> None:
    assert badge("x", verdicts)["color"] == color


def test_a_run_that_gave_no_answer_is_an_error_badge() -> None:
    broken = badge("kv-cache matrix", ["error", "infra", "error"])
    assert broken["isError"] is True and broken["message"] == "2 error · 1 infra"
    assert endpoint_problems(broken) == []


def test_pair_verdict_is_the_most_severe_suite_verdict(make_cell) -> None:
    cell = cell_with(make_cell, "4.57.6", "2.13.0", "pass")
    cell["suites"]["roundtrip"]["with"]["verdict"] = "fail"
    assert pair_verdict(cell, ["export", "roundtrip"]) == "fail"
    assert pair_verdict(cell, ["export"]) == "pass"
    assert pair_verdict(cell, ["no-such-suite"]) == "error"


def test_readme_badges_are_raw_badge_files_that_publish_writes() -> None:
    """Every badge the README shows is a file the published matrix's badges include (none dropped, such as
    overall.json), read from the default branch through the shields endpoint."""
    root = Path(__file__).resolve().parents[3]
    matrix = load_matrix(root / "reports" / "matrix.json")  # the published matrix the badges come from
    uses = json.loads((root / "reports" / "uses.json").read_text(encoding="utf-8"))
    readme = (root / "README.md").read_text()
    urls = [unquote(url) for url in re.findall(r"https://img\.shields\.io/endpoint\?url=([^)\s]+)", readme)]
    raw = "https://raw.githubusercontent.com/kv-cache-compat/kv-cache-compat/main/reports/badges/"
    assert urls and all(url.startswith(raw) for url in urls)
    assert {url.removeprefix(raw) for url in urls} <= set(badges(matrix, uses))


def test_flaky_and_setup_pairs_are_counted_by_their_own_names_between_fail_and_xfail() -> None:
    message = badge("x", ["pass", "setup", "xfail", "flaky", "fail"])["message"]
    assert message == "1 fail · 1 flaky · 1 setup · 1 xfail · 1 pass"


def test_an_answers_badge_counts_the_answers_that_work_leaving_out_n_a_and_cells_that_did_not_run() -> None:
    answers = ["works", "works with compat", "broken", "n/a", "not-installable", "works"]
    assert answers_badge("x", answers, "uses")["message"] == "3/4 uses · 1 need compat"
    assert answers_badge("x", ["n/a", "infra"], "uses")["message"] == "no answer"


@pytest.mark.parametrize(
    ("answers", "color"),
    [
        (["works", "works with compat", "works with the vmap-free mask"], "brightgreen"),
        (["works"] * 20 + ["known limitation"], "yellow"),
        (["works", "broken"], "yellow"),
        (["works", "broken", "flaky"], "orange"),
        (["broken", "flaky"], "red"),
    ],
)
def test_an_answers_badge_is_green_only_when_every_answer_works(answers: list[str], color: str) -> None:
    assert answers_badge("x", answers, "uses")["color"] == color


def pins_cell(transformers: str, torch: str) -> dict[str, Any]:
    return {"id": f"tf{transformers}-torch{torch}", "pins": {"transformers": transformers, "torch": torch}}


def test_the_newest_pair_is_chosen_by_version_not_by_list_order() -> None:
    cells = [pins_cell("5.10.0", "2.9.1"), pins_cell("5.10.0", "2.13.0"), pins_cell("5.9.0", "2.15.0"),
             pins_cell("4.57.6", "2.15.0")]
    assert newest_pair({"cells": cells}) == pins_cell("5.10.0", "2.13.0")
    assert newest_pair({"cells": []}) is None


def uses_of(answers: dict[str, list[str]]) -> dict[str, Any]:
    """A uses.json document of one use per position of `answers` (cell id -> each use's answer there)."""
    count = len(next(iter(answers.values())))
    return {"pairs": list(answers), "uses": [
        {"key": f"u{k}", "title": f"use {k}", "answers": {pair: {"answer": found[k]} for pair, found in answers.items()}}
        for k in range(count)]}


def test_the_newest_pair_badge_counts_the_uses_that_exist_on_the_newest_pair(matrix: dict) -> None:
    newest, older, uninstallable = (cell["id"] for cell in sorted(
        matrix["cells"], key=lambda cell: cell["pins"]["transformers"] != "5.24.0"))
    uses = uses_of({uninstallable: ["not-installable"] * 4, older: ["works"] * 4,
                    newest: ["works", "works with compat", "broken", "n/a"]})
    files = badges(matrix, uses)
    assert files["uses-newest.json"] == {**files[f"pair-{newest}.json"],
                                         "label": "newest: transformers 5.24.0 · torch 2.13.0"}
    assert files["uses-newest.json"]["message"] == "2/3 uses · 1 need compat"
    assert files[f"pair-{older}.json"]["message"] == "4/4 uses"
    assert files[f"pair-{uninstallable}.json"]["message"] == "no answer"


def test_a_use_badge_counts_the_pairs_it_works_in(matrix: dict) -> None:
    ids = [cell["id"] for cell in matrix["cells"]]
    uses = uses_of({ids[0]: ["not-installable", "n/a"], ids[1]: ["works", "broken"], ids[2]: ["works", "n/a"]})
    files = badges(matrix, uses)
    assert files["use-u0.json"]["label"] == "use 0" and files["use-u0.json"]["message"] == "2/2 pairs"
    assert files["use-u1.json"]["message"] == "0/1 pairs" and files["use-u1.json"]["color"] == "red"
    assert files["uses.json"]["message"] == "2/3 answers"


def test_a_compat_regression_anywhere_turns_the_compat_badge_red(matrix: dict) -> None:
    assert compat_regressions_badge(matrix) == {**compat_regressions_badge(matrix), "message": "0",
                                                "color": "brightgreen"}
    matrix["cells"][1]["compat_regressions"] = [{"suite": "export", "name": "test_a"},
                                                {"suite": "compile", "name": "test_b"}]
    matrix["cells"][2]["compat_regressions"] = [{"suite": "export", "name": "test_a"}]
    assert badges(matrix, uses_document(matrix))["compat-regressions.json"]["message"] == "3"
    assert badges(matrix, uses_document(matrix))["compat-regressions.json"]["color"] == "red"


def test_a_matrix_in_which_no_cell_ran_has_no_green_zero_regressions(matrix: dict) -> None:
    matrix["cells"] = [cell for cell in matrix["cells"] if cell["status"] != "ran"]
    assert compat_regressions_badge(matrix)["color"] == "lightgrey"


@pytest.mark.parametrize("generated_at", ["2019-01-02T03:04:05Z", "2026-12-06T22:14:32Z"])
def test_the_published_badge_is_the_publish_date_in_one_colour_whatever_its_age(generated_at: str) -> None:
    published = published_badge({"generated_at": generated_at})
    assert published["message"] == generated_at[:10] and published["color"] == "blue"


def test_the_snippet_shows_the_raw_badge_file_through_the_shields_endpoint_and_links_to_the_page() -> None:
    snippet = badge_snippet("uses-newest.json", "uses that work")
    found = re.fullmatch(r"\[!\[uses that work\]\((?P<image>[^)]+)\)\]\((?P<link>[^)]+)\)", snippet)
    assert found and found["link"] == PAGES_URL
    image = urlsplit(found["image"])
    assert (image.netloc, image.path) == ("img.shields.io", "/endpoint")
    assert parse_qs(image.query) == {"url": [
        "https://raw.githubusercontent.com/kv-cache-compat/kv-cache-compat/main/reports/badges/uses-newest.json"]}
    latest = badge_snippet("pair-tf5.24.0-torch2.15.0.json", "x", "reports/matrix.md", reports="reports/latest")
    assert unquote(latest).endswith("/main/reports/latest/badges/pair-tf5.24.0-torch2.15.0.json)](reports/matrix.md)")
    assert badge_snippet("use-x.json", "a [b] c").startswith(r"[![a \[b\] c](")


def test_a_client_that_could_not_be_installed_leaves_the_pairs_overall_verdict_to_the_suites_that_ran() -> None:
    reason = {"verdict": "not-installable", "counts": {}, "reason": "executorch needs torch 2.9"}
    cell = {"suites": {"export": {"with": {"verdict": "pass", "counts": {"pass": 1}}}, "executorch": {"with": reason}}}
    assert pair_verdict(cell, ["executorch", "export"]) == "pass"
    assert pair_verdict(cell, ["executorch"]) == "not-installable"
    failing = {"suites": {**cell["suites"], "executorch": {"with": {"verdict": "fail", "counts": {"fail": 1}}}}}
    assert pair_verdict(failing, ["executorch", "export"]) == "fail"


def test_a_client_that_installed_but_crashed_before_any_test_makes_the_pair_an_error() -> None:
    crashed = {"verdict": "error", "counts": {}, "reason": "pytest exit 4: ImportError: cannot import name 'x'"}
    cell = {"suites": {"export": {"with": {"verdict": "pass", "counts": {"pass": 1}}}, "executorch": {"with": crashed}}}
    assert pair_verdict(cell, ["executorch", "export"]) == "error"
    offline = {**crashed, "verdict": "infra"}
    cell["suites"]["executorch"]["with"] = offline
    assert pair_verdict(cell, ["executorch", "export"]) == "pass"
