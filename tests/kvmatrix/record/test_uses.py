"""kvmatrix.record.uses: each use's answer in a pair is its best working route with every requirement, every
route listed with its verdict; and the views that render those answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvmatrix.record.answers import uses_document
from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import BY_KEY, PREDATES_SUITE, USES, Use, Variant, answer, covered_tests
from kvmatrix.render.by_use import by_use_html, by_use_markdown
from kvmatrix.render.page_answers import answer_views

ROOT = Path(__file__).resolve().parents[3]
USE = Use("export-x", "export X", "export", (Variant("a", "route a", r"test_x\[a\]"),
                                             Variant("b", "route b", r"test_x\[b\]", ("compat.use_export_mask(model)",))))
DEFAULT = "export::test_decode_step_exports_and_matches_eager[StaticCache-strict-static]"
MASKED = "export::test_decode_step_export_path_matches_eager[StaticCache-strict-vmap-free-cache]"


def cell(tests: dict[str, Any], transformers: str = "4.57.6", torch: str = "2.13.0", status: str = "ran") -> dict:
    return {"id": f"tf{transformers}-torch{torch}", "status": status, "tests": tests,
            "pins": {"transformers": transformers, "torch": torch}}


def two(with_: list, without: list) -> dict[str, list]:
    return {"with": with_, "without": without}


@pytest.mark.parametrize(("tests", "expected"), [
    ({"export::test_x[a]": two(["pass"], ["pass"])}, ("works", "a+transformers", ())),
    ({"export::test_x[a]": two(["pass"], ["fail", "cache"])}, ("works with compat", "a+compat", ("compat.register()",))),
    ({"export::test_x[a]": two(["fail", "cache"], ["fail", "cache"]), "export::test_x[b]": two(["pass"], ["fail"])},
     ("works with the vmap-free mask", "b+compat", ("compat.register()", "compat.use_export_mask(model)"))),
    ({"export::test_x[a]": two(["fail", "cache"], ["fail", "cache"]), "export::test_x[b]": two(["pass"], ["pass"])},
     ("works with the vmap-free mask", "b+transformers", ("compat.use_export_mask(model)",))),
    ({"export::test_x[a]": two(["pass"], ["fail", "cache"]), "export::test_x[b]": two(["pass"], ["pass"])},
     ("works with compat", "a+compat", ("compat.register()",))),
])
def test_a_use_answers_with_its_best_working_route_and_everything_that_route_requires(tests: dict,
                                                                                       expected: tuple) -> None:
    found = answer(USE, cell(tests))
    assert (found.answer, found.route, found.requires) == expected


def test_a_failing_route_never_hides_a_working_one_and_every_route_is_listed() -> None:
    """The worst of the routes used to answer the use: one non-strict failure made ExecuTorch `broken`."""
    use = BY_KEY["executorch"]
    tests = {f"executorch::test_lowered_decode_step_runs_on_executorch_like_eager[{wrapper}-{mode}]":
             two(["pass"], ["pass"]) if mode == "strict" else two(["fail", "cache"], ["fail", "cache"])
             for wrapper in ("TorchExportableModuleForDecoderOnlyLM", "convert_and_export_with_cache")
             for mode in ("strict", "non-strict")}
    found = answer(use, cell(tests))
    assert (found.answer, found.route, found.requires) == (
        "works", "TorchExportableModuleForDecoderOnlyLM-strict+transformers", ("strict=True",))
    verdicts = {route.route: route.verdict for route in found.routes if route.verdict != "n/a"}
    assert verdicts["convert_and_export_with_cache-non-strict+compat"] == "fail"
    assert len(verdicts) == 8  # 4 variants x transformers alone and compat (no TICO run in a client suite)


@pytest.mark.parametrize(("tests", "expected"), [
    ({"export::test_x[a]": two(["fail", "not-cache", "pytorch/pytorch#1"], ["fail", "not-cache"])},
     ("broken", "not-cache", "pytorch/pytorch#1")),
    ({"export::test_x[a]": two(["xfail", "cache", "pytorch/pytorch#2"], ["xfail", "cache"]),
      "export::test_x[b]": two(["xfail", "cache"], ["xfail", "cache"])},
     ("known limitation", "cache", "pytorch/pytorch#2")),
    ({"export::test_x[a]": two(["xfail", "cache"], ["xfail", "cache"]),
      "export::test_x[b]": two(["fail", "cache"], ["fail", "cache"])}, ("broken", "cache", None)),
    ({"export::test_x[a]": two(["flaky", "cache"], ["fail", "cache"])}, ("flaky", "cache", None)),
    ({"export::test_x[a]": two(["setup", "setup"], ["setup", "setup"])}, ("setup fails", "setup", None)),
    ({"export::test_x[a]": two(["n/a"], ["n/a"])}, ("n/a", None, None)),
    ({"export::test_y[a]": two(["pass"], ["pass"])}, ("n/a", None, None)),
    ({"compile::test_x[a]": two(["pass"], ["pass"])}, ("n/a", None, None)),
])
def test_a_use_no_route_of_which_works_says_why(tests: dict, expected: tuple) -> None:
    found = answer(USE, cell(tests))
    assert (found.answer, found.cause, found.upstream) == expected


def test_a_missing_registration_run_is_an_error_of_that_route_not_a_pass() -> None:
    found = answer(USE, cell({"export::test_x[a]": {"without": ["pass"]}}))
    assert found.answer == "works"
    assert {route.route: route.verdict for route in found.routes}["a+compat"] == "error"


def test_tico_registration_answers_only_where_neither_transformers_nor_compat_works() -> None:
    tests = {"export::test_x[a]": {**two(["fail", "cache"], ["fail", "cache"]), "tico": ["pass"]}}
    found = answer(USE, cell(tests))
    assert (found.answer, found.route) == ("works with TICO's registration", "a+tico")
    tests["export::test_x[a]"]["with"] = ["pass"]
    assert answer(USE, cell(tests)).route == "a+compat"


def test_a_cell_or_client_that_did_not_run_answers_with_its_status_and_reason() -> None:
    assert answer(USE, {**cell({}, status="not-installable"), "status_reason": "no solution"}).reason == "no solution"
    use = BY_KEY["executorch"]
    found = {**cell({}), "clients": {"executorch": {"status": "setup", "reason": "No module named 'x'"}}}
    assert (answer(use, found).answer, answer(use, found).reason) == ("setup", "No module named 'x'")
    assert answer(use, {**found, "clients": {"executorch": {"status": "ran"}}}).answer == "n/a"


def test_the_static_export_uses_take_the_vmap_free_mask_and_flat_outputs_as_routes() -> None:
    use = BY_KEY["export-staticcache-strict-static"]
    found = answer(use, cell({DEFAULT: two(["fail", "not-cache"], ["fail", "not-cache"]),
                              MASKED: two(["pass"], ["fail", "cache"])}))
    assert (found.answer, found.requires) == ("works with the vmap-free mask",
                                              ("compat.register()", "compat.use_export_mask(model)"))
    dynamic = BY_KEY["export-staticcache-strict-dynamic"]
    assert answer(dynamic, cell({MASKED: two(["pass"], ["pass"])})).answer == "n/a"  # no mask twin when dynamic


def test_every_use_covers_tests_of_the_published_matrix() -> None:
    """A renamed suite test must not turn a use into a silent n/a everywhere."""
    cells = load_matrix(ROOT / "reports" / "matrix.json")["cells"]
    uncovered = [use.key for use in USES if not any(covered_tests(use, c) for c in cells)]
    assert uncovered == []


def test_every_variant_covers_tests_of_some_published_matrix() -> None:
    cells = [cell for name in ("matrix.json", "latest/matrix.json", "full/matrix.json")
             for cell in load_matrix(ROOT / "reports" / name)["cells"]]
    unused = [f"{use.key}/{variant.key}" for use in USES for variant in use.variants
              if not any(covered_tests(Use(use.key, use.title, use.suite, (variant,)), c) for c in cells)]
    assert unused == []


def test_the_views_show_one_row_per_use_and_one_column_per_pair() -> None:
    matrix = load_matrix(ROOT / "reports" / "matrix.json")
    uses = uses_document(matrix)
    text = by_use_markdown(uses)
    table = [line for line in text.partition("Since which release")[0].splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(USES)  # the head, the rule, a row per use
    assert all(line.count(" | ") == len(matrix["cells"]) for line in table)
    (table, _) = answer_views(uses)["tables"]
    assert [row[0] for row in table["rows"]] == [use.key for use in USES]
    assert all(len(row) == 2 + 6 * len(matrix["cells"]) for row in table["rows"])  # two chips of three per pair
    page = by_use_html(uses)
    assert all(f'id="use-{use.key}"' in page for use in USES)


def test_a_chip_names_the_requirements_of_the_route_it_answers_with() -> None:
    matrix = {"cells": [cell({DEFAULT: two(["fail", "not-cache"], ["fail", "not-cache"]),
                              MASKED: two(["pass"], ["fail", "cache"])})], "generated_at": "now"}
    row = next(line for line in by_use_markdown(uses_document(matrix)).splitlines()
               if line.startswith("| torch.export StaticCache, strict, static length |"))
    assert row.endswith("| 🎭 works with compat.register() + compat.use\\_export\\_mask(model) |")


def test_hostile_causes_cannot_rewrite_the_by_use_table() -> None:
    hostile = "cache | ✅ works | ✅ works <img src=x>\n| injected |"
    matrix = {"cells": [cell({"export::test_decode_step_exports_and_matches_eager[DynamicCache-strict-static]":
                              two(["fail", hostile, "[x](http://evil)"], ["fail", hostile])})], "generated_at": "now"}
    text = by_use_markdown(uses_document(matrix))
    table = [line for line in text.partition("Since which release")[0].splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(USES)
    assert "<img" not in text and "[x](http" not in text


def test_every_use_variant_and_registration_key_is_documented() -> None:
    from kvmatrix.record.uses import REGISTRATIONS

    doc = (ROOT / "docs" / "uses.md").read_text(encoding="utf-8")
    missing = [key for key in [*(f"`{use.key}`" for use in USES),
                               *(f"`{variant.key}`" for use in USES for variant in use.variants),
                               *(f"`{registration.key}`" for registration in REGISTRATIONS)] if key not in doc]
    assert missing == []


def test_a_cell_recorded_before_the_use_s_suite_existed_answers_not_run_with_why() -> None:
    older = {**cell({"export::test_x[a]": two(["pass"], ["pass"])}), "suites": {"saveload": {}}}
    found = answer(USE, older)
    assert (found.answer, found.reason, found.routes) == ("n/a", PREDATES_SUITE.format(suite="export"), ())
    assert answer(USE, {**older, "suites": {"export": {}}}).answer == "works"
