"""kvmatrix.record.uses: each use's answer in a pair, from both registration modes of its tests, and the
recommended pins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import USES, Use, answer, covered_tests, recommended, tico_answer, working_uses
from kvmatrix.render.by_use import by_use_html, by_use_markdown

ROOT = Path(__file__).resolve().parents[2]
USE = Use("export-x", "export X", "export", r"test_x\[")


def cell(tests: dict[str, Any], transformers: str = "4.57.6", torch: str = "2.13.0", status: str = "ran") -> dict:
    return {"id": f"tf{transformers}-torch{torch}", "status": status, "tests": tests,
            "pins": {"transformers": transformers, "torch": torch}}


def two(with_: list, without: list) -> dict[str, list]:
    return {"with": with_, "without": without}


@pytest.mark.parametrize(("tests", "expected"), [
    ({"export::test_x[a]": two(["pass", None], ["pass", None])}, ("works", None, None)),
    ({"export::test_x[a]": two(["pass", None], ["fail", "cache"])}, ("works with compat", None, None)),
    ({"export::test_x[a]": two(["pass", None], ["pass", None]),
      "export::test_x[b]": two(["fail", "not-cache", "pytorch/pytorch#1"], ["fail", "not-cache"])},
     ("broken", "not-cache", "pytorch/pytorch#1")),
    ({"export::test_x[a]": two(["flaky", "cache"], ["fail", "cache"])}, ("flaky", "cache", None)),
    ({"export::test_x[a]": two(["setup", "setup"], ["setup", "setup"])}, ("setup fails", "setup", None)),
    ({"export::test_x[a]": two(["n/a", None], ["n/a", None])}, ("n/a", None, None)),
    ({"export::test_y[a]": two(["pass", None], ["pass", None])}, ("n/a", None, None)),
    ({"compile::test_x[a]": two(["pass", None], ["pass", None])}, ("n/a", None, None)),
])
def test_a_use_answers_from_both_modes_of_its_own_tests(tests: dict, expected: tuple) -> None:
    found = answer(USE, cell(tests))
    assert (found.answer, found.cause, found.upstream) == expected


def test_a_cell_that_did_not_run_answers_with_its_status() -> None:
    assert answer(USE, cell({}, status="not-installable")).answer == "not-installable"


def test_the_recommended_pins_are_the_newest_plain_pair_and_a_newer_one_needing_compat() -> None:
    works = {"export::test_x[a]": two(["pass", None], ["pass", None])}
    needs = {"export::test_x[a]": two(["pass", None], ["fail", "cache"])}
    broken = {"export::test_x[a]": two(["fail", "cache"], ["fail", "cache"])}
    cells = [cell(works, "4.53.3", "2.7.1"), cell(works, "4.53.3", "2.13.0"), cell(needs, "4.57.6", "2.10.0"),
             cell(broken, "5.0.0", "2.10.0"), cell(needs, "4.46.3", "2.5.1")]
    best = recommended(USE, cells)
    assert best["plain"] == "tf4.53.3-torch2.13.0"
    assert best["with_compat"] == "tf4.57.6-torch2.10.0"
    assert best["by_transformers"] == {
        "4.46.3": [{"torch": "2.5.1", "needs_compat": True, "needs_mask": False}],
        "4.53.3": [{"torch": "2.7.1", "needs_compat": False, "needs_mask": False},
                   {"torch": "2.13.0", "needs_compat": False, "needs_mask": False}],
        "4.57.6": [{"torch": "2.10.0", "needs_compat": True, "needs_mask": False}],
    }
    assert recommended(USE, [cell(needs, "4.46.3", "2.5.1"), cell(works, "4.57.6", "2.13.0")])["with_compat"] is None


def test_each_export_path_variant_is_a_use_answered_by_its_own_test_beside_the_default_path() -> None:
    """The by-use table shows what a path choice changes: the default path and each variant answer apart."""
    by_key = {use.key: use for use in USES}
    tests = {
        "export::test_decode_step_exports_and_matches_eager[StaticCache-strict-static]":
            two(["fail", "not-cache"], ["fail", "not-cache"]),
        "export::test_decode_step_export_path_matches_eager[StaticCache-strict-vmap-free-cache]":
            two(["pass"], ["fail", "cache"]),
        "export::test_decode_step_export_path_matches_eager[StaticCache-strict-default-flat]": two(["n/a"], ["n/a"]),
    }
    answers = {key: answer(by_key[key], cell(tests)).answer for key in (
        "export-staticcache-strict-static", "export-staticcache-strict-static-vmap-free-mask",
        "export-staticcache-strict-static-flat-outputs", "export-staticcache-non-strict-static-vmap-free-mask")}
    assert answers == {"export-staticcache-strict-static": "works with the vmap-free mask",
                       "export-staticcache-strict-static-vmap-free-mask": "works with compat",
                       "export-staticcache-strict-static-flat-outputs": "n/a",
                       "export-staticcache-non-strict-static-vmap-free-mask": "n/a"}


def test_the_default_path_keeps_its_own_answer_when_it_works_or_the_vmap_free_mask_does_not_help() -> None:
    by_key = {use.key: use for use in USES}
    default = "export::test_decode_step_exports_and_matches_eager[StaticCache-strict-static]"
    switched = "export::test_decode_step_export_path_matches_eager[StaticCache-strict-vmap-free-cache]"
    use = by_key["export-staticcache-strict-static"]
    assert answer(use, cell({default: two(["pass"], ["fail", "cache"]), switched: two(["pass"], ["pass"])})).answer \
        == "works with compat"  # the default path works: the mask is not needed
    broken = answer(use, cell({default: two(["fail", "not-cache", "pytorch/pytorch#1"], ["fail", "not-cache"]),
                               switched: two(["fail", "not-cache"], ["fail", "not-cache"])}))
    assert (broken.answer, broken.cause, broken.upstream) == ("broken", "not-cache", "pytorch/pytorch#1")
    assert answer(by_key["export-staticcache-strict-dynamic"], cell({
        "export::test_decode_step_exports_and_matches_eager[StaticCache-strict-dynamic]": two(["fail"], ["fail"]),
        switched: two(["pass"], ["pass"])})).answer == "broken"  # no vmap-free twin for dynamic lengths


def test_a_pair_that_needs_the_vmap_free_mask_is_recommended_with_it_and_rendered_as_such() -> None:
    by_key = {use.key: use for use in USES}
    tests = {"export::test_decode_step_exports_and_matches_eager[StaticCache-strict-static]": two(["fail"], ["fail"]),
             "export::test_decode_step_export_path_matches_eager[StaticCache-strict-vmap-free-cache]":
                 two(["pass"], ["pass"])}
    use = by_key["export-staticcache-strict-static"]
    best = recommended(use, [cell(tests)])
    assert best["plain"] is None and best["by_transformers"] == {
        "4.57.6": [{"torch": "2.13.0", "needs_compat": False, "needs_mask": True}]}
    matrix = {"cells": [cell(tests)], "suites": ["export"]}
    text = by_use_markdown(matrix)
    assert "🎭 with the vmap-free mask" in text and "tf4.57.6: torch 2.13.0+mask" in text
    assert "u-works-with-the-vmap-free-mask" in by_use_html(matrix)


def test_every_use_covers_tests_of_the_published_matrix() -> None:
    """A renamed suite test must not turn a use into a silent n/a everywhere."""
    cells = load_matrix(ROOT / "reports" / "matrix.json")["cells"]
    uncovered = [use.key for use in USES if not any(covered_tests(use, c) for c in cells)]
    assert uncovered == []


def test_the_views_show_one_row_per_use_and_one_column_per_pair() -> None:
    matrix = load_matrix(ROOT / "reports" / "matrix.json")
    text = by_use_markdown(matrix)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(USES)  # the head, the rule, a row per use
    assert all(line.count(" | ") == len(matrix["cells"]) for line in table)
    page = by_use_html(matrix)
    assert page.count("<tr data-use=") == len(USES)
    assert sum(working_uses(c) for c in matrix["cells"]) > 0


CLIENT_USES = {"executorch": "lower with ExecuTorch and run in its runtime", "tico": "convert to Circle with TICO"}


@pytest.mark.parametrize(("key", "title"), CLIENT_USES.items())
def test_each_client_is_a_use_answered_by_its_own_suite(key: str, title: str) -> None:
    use = next(use for use in USES if use.key == key)
    assert (use.title, use.suite) == (title, key)
    assert answer(use, cell({f"{key}::test_runs[StaticCache]": two(["pass"], ["fail", "cache"])})).answer == \
        "works with compat"


def test_a_client_that_could_not_be_installed_answers_with_its_status_not_n_a() -> None:
    use = next(use for use in USES if use.key == "executorch")
    found = {**cell({}), "clients": {"executorch": {"status": "not-installable", "reason": "needs torch 2.9"}}}
    assert answer(use, found).answer == "not-installable"
    assert answer(use, {**found, "clients": {"executorch": {"status": "ran"}}}).answer == "n/a"


@pytest.mark.parametrize(("tico", "expected"), [
    ({"a": ["pass"], "b": ["pass"]}, "works"),
    ({"a": ["pass"], "b": ["fail", "cache"]}, "broken"),
    ({"a": ["n/a"]}, None),
    ({}, None),
])
def test_the_tico_answer_comes_from_the_tico_runs_entries_of_the_uses_tests(tico: dict, expected: str | None) -> None:
    tests = {f"export::test_x[{name}]": {**two(["fail"], ["fail"]), **({"tico": entry})}
             for name, entry in tico.items()} or {"export::test_x[a]": two(["fail"], ["fail"])}
    assert tico_answer(USE, cell(tests)) == expected


def test_the_by_use_chip_shows_the_tico_answer_beside_compats_where_the_pair_ran_it() -> None:
    use = next(use for use in USES if use.key == "unflatten")
    tests = {"roundtrip::test_unflattened_exported_program_matches_eager[a]":
             {**two(["fail", "cache"], ["fail", "cache"]), "tico": ["pass"]}}
    matrix = {"cells": [cell(tests)], "suites": ["roundtrip"]}
    row = next(line for line in by_use_markdown(matrix).splitlines() if line.startswith(f"| {use.title} |"))
    assert row == f"| {use.title} | ❌ broken (cache) · TICO: works |"
    assert "· TICO:" not in by_use_markdown({"cells": [cell({})], "suites": ["roundtrip"]})
