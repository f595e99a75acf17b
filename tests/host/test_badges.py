"""kvmatrix.render.badges: shields.io endpoint files, checked against the endpoint format shields documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from kvmatrix.plan.pins import Pins
from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import USES
from kvmatrix.render.badges import badge, badges, pair_verdict, use_badge

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
    files = badges(matrix)
    assert sorted(files) == [
        "layout-layer.json",
        "layout-list-module.json",
        "layout-list.json",
        "overall.json",
        "suite-compile.json",
        "suite-export.json",
        "suite-roundtrip.json",
        *sorted(f"use-{use.key}.json" for use in USES),
        "uses.json",
    ]
    for name, data in files.items():
        assert endpoint_problems(data) == [], name


def test_overall_badge_counts_pairs_by_their_worst_verdict_with_registration(matrix: dict) -> None:
    overall = badges(matrix)["overall.json"]
    # ran_cell: export pass, roundtrip pass, compile xfail -> xfail; the uninstallable pair; a passing pair
    assert overall["message"] == "1 not-installable · 1 xfail · 1 pass"
    assert overall["color"] == "yellow" and "isError" not in overall


def test_suite_badges_use_that_suite_only(matrix: dict) -> None:
    files = badges(matrix)
    assert files["suite-export.json"]["message"] == "1 not-installable · 2 pass"
    assert files["suite-compile.json"]["message"] == "1 not-installable · 1 xfail · 1 pass"


def test_layout_badges_count_only_their_layout(matrix: dict) -> None:
    files = badges(matrix)
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


def test_readme_badges_point_at_the_raw_badge_files_that_publish_writes() -> None:
    """Every badge but the per-use ones (for embedding where one use matters) is in the README."""
    root = Path(__file__).resolve().parents[2]
    matrix = load_matrix(root / "reports" / "matrix.json")  # the published matrix the badges come from
    readme = (root / "README.md").read_text()
    urls = [unquote(url) for url in re.findall(r"https://img\.shields\.io/endpoint\?url=([^)\s]+)", readme)]
    raw = "https://raw.githubusercontent.com/kv-cache-compat/kv-cache-compat/main/reports/badges/"
    assert urls and all(url.startswith(raw) for url in urls)
    assert sorted(url.removeprefix(raw) for url in urls) == sorted(
        name for name in badges(matrix) if not name.startswith("use-"))


def test_flaky_and_setup_pairs_are_counted_by_their_own_names_between_fail_and_xfail() -> None:
    message = badge("x", ["pass", "setup", "xfail", "flaky", "fail"])["message"]
    assert message == "1 fail · 1 flaky · 1 setup · 1 xfail · 1 pass"


def test_the_uses_badge_counts_use_and_pair_answers_that_work_leaving_out_n_a() -> None:
    answers = ["works", "works with compat", "broken", "n/a", "not-installable", "works"]
    assert use_badge("uses that work", answers)["message"] == "3 of 4 work · 1 need compat"
    assert use_badge("uses that work", answers)["color"] == "yellow"
    assert use_badge("x", ["broken", "flaky"])["color"] == "red"
    assert use_badge("x", ["works", "works"]) == {**use_badge("x", ["works", "works"]), "message": "2 of 2 work",
                                                  "color": "brightgreen"}
    assert use_badge("x", ["n/a", "infra"])["message"] == "no pair"


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
