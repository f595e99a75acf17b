"""kvmatrix.render.page_uses: the pairs newest first, each answer on either side of the page's TICO toggle, the
routes' tooltip, and the data a use's picture is drawn from."""

from __future__ import annotations

from kvmatrix.record.answers import GROUPS
from kvmatrix.render.page_uses import (
    newest_first,
    picture_placeholder,
    routes_summary,
    tico_side,
    without_tico,
)

USE = {"key": "export-dynamiccache-strict-static", "suite": "export"}
DEFAULT = "test_decode_step_exports_and_matches_eager[DynamicCache-strict-static]"
MASK = "test_decode_step_export_path_matches_eager[DynamicCache-strict-vmap-free-cache]"


def test_pairs_are_ordered_newest_first_by_transformers_then_torch_as_versions_not_text() -> None:
    pairs = ["tf4.9.0-torch2.13.0", "tf4.10.0-torch2.5.1", "tf4.10.0-torch2.10.0", "tf5.0.0rc1-torch2.9.0"]
    assert newest_first(pairs) == ["tf5.0.0rc1-torch2.9.0", "tf4.10.0-torch2.10.0", "tf4.10.0-torch2.5.1",
                                   "tf4.9.0-torch2.13.0"]


def test_an_answer_resting_on_ticos_registration_is_read_again_without_it() -> None:
    found = {"answer": "works with TICO's registration", "requires": ["tico.utils.pytree_utils register_*()"],
             "tests": {DEFAULT: {"with": ["fail", "cache", "pytorch/pytorch#1"], "without": ["fail", "cache", None],
                                 "tico": ["pass"]}}}
    ours = without_tico(USE, found)
    assert (ours["answer"], ours["cause"], ours["upstream"]) == ("broken", "cache", "pytorch/pytorch#1")
    assert tico_side(USE, found)["answer"] == "works with TICO's registration"


def test_an_answer_that_works_without_tico_is_kept_and_ticos_side_is_its_own() -> None:
    found = {"answer": "works with the vmap-free mask", "requires": ["compat.register()"],
             "tests": {DEFAULT: {"with": ["fail", "cache", None], "without": ["fail", "cache", None],
                                 "tico": ["fail", "cache", None]},
                       MASK: {"with": ["pass"], "without": ["fail", "cache", None], "tico": ["fail", "cache", None]}}}
    assert without_tico(USE, found) is found
    tico = tico_side(USE, found)
    assert (tico["answer"], tico["cause"]) == ("broken", "cache")


def test_ticos_side_is_na_where_ticos_run_has_none_of_the_uses_tests_and_the_status_where_the_pair_did_not_run(
) -> None:
    found = {"answer": "works", "requires": [], "tests": {DEFAULT: {"with": ["pass"], "without": ["pass"]}}}
    assert tico_side(USE, found)["answer"] == "n/a"
    stopped = {"answer": "not-installable", "reason": "no wheel", "requires": [], "tests": {}}
    assert tico_side(USE, stopped) is stopped and without_tico(USE, stopped) is stopped


def test_the_routes_tooltip_groups_routes_by_outcome_and_keeps_tico_to_its_own_side() -> None:
    routes = [["default+transformers", "fail", "cache", None], ["default+compat", "pass", None, None],
              ["default+tico", "pass", None, None], ["flat-outputs+transformers", "fail", "cache", None],
              ["flat-outputs+compat", "pass", None, None]]
    assert routes_summary(routes, tico=False) == ("fail (cache): default, flat-outputs (transformers) · "
                                                  "pass: default, flat-outputs (compat)")
    assert routes_summary(routes, tico=True) == "pass: default"


def test_a_pictures_data_lists_transformers_newest_first_and_each_squares_group() -> None:
    use = {"since": {"by_transformers": {"4.46": {"2.5": "works", "2.13": "untested"},
                                         "4.57": {"2.5": "broken", "2.13": "works with compat"}}}}
    holder = picture_placeholder(use)
    squares = "".join(str(GROUPS.index(group)) for group in ("broken", "works with compat", "works", "untested"))
    assert f'data-rows="4.57 4.46" data-columns="2.5 2.13" data-squares="{squares}"' in holder
