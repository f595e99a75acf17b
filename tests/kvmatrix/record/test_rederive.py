"""Records written before the ladder compared failures are re-derived from their two errors
(kvmatrix.record.rederive): `not-cache` stays only where the test and its probe failed with the same type and
message."""

from __future__ import annotations

import json
from typing import Any

from kvmatrix.record import causes
from kvmatrix.record.causes import ANY_FAILURE, CACHE, DIFFERENTLY, NOT_CACHE, SAME_WAY
from kvmatrix.record.rederive import rederive_runs, rederive_test
from kvmatrix.run.process import attribution
from kvmatrix.run.process.attribution import PROBE_PASSES
from tests.support.errors import NO_FLAT_APPLY

UNREGISTERED = ("ValueError: Unsupported input type <class 'transformers.cache_utils.StaticCache'>. Export only "
                "supports pytree containers of basic types")


def old_not_cache(error: str, probe_error: str) -> dict[str, Any]:
    """A failed test record as the ladder wrote it before it compared failures."""
    return {"suite": "saveload", "name": "test_saved[StaticCache]", "verdict": "fail", "error": error,
            "cause": NOT_CACHE, "cause_detail": f"{ANY_FAILURE}{probe_error}", "upstream": None}


def test_the_host_reads_back_the_detail_texts_the_ladder_writes() -> None:
    assert (attribution.SAME_WAY, attribution.DIFFERENTLY) == (causes.SAME_WAY, causes.DIFFERENTLY)
    assert not attribution.SAME_WAY.startswith(ANY_FAILURE)  # a comparing ladder's record is never re-derived


def test_a_probe_failing_with_another_exception_type_makes_the_cause_cache_keeping_its_error() -> None:
    test = old_not_cache(UNREGISTERED, NO_FLAT_APPLY)
    assert rederive_test(test) == NO_FLAT_APPLY
    assert (test["cause"], test["cause_detail"]) == (CACHE, f"{DIFFERENTLY}{NO_FLAT_APPLY}")


def test_a_probe_failing_with_the_same_type_but_another_message_makes_the_cause_cache() -> None:
    test = old_not_cache("torch._dynamo.exc.UserError: Constraints violated (new_tokens)!",
                         "UserError: Constraints violated (length)!")
    assert rederive_test(test) is not None
    assert test["cause"] == CACHE


def test_the_same_type_and_message_stay_not_cache_whatever_module_addresses_and_numbers_they_name() -> None:
    test = old_not_cache(
        "torch._export.serde.serialize.SerializeError: Failed serializing node at 0x7f3a2b1c0d10 in graph 12",
        "SerializeError: Failed serializing node at 0x55d0e4a1b2c0 in graph 3")
    assert rederive_test(test) is None
    assert test["cause"] == NOT_CACHE


def test_a_probe_message_going_on_past_the_tests_first_line_is_the_same_message() -> None:
    test = old_not_cache("RuntimeError: Either your tensor may have escaped",
                         "RuntimeError: Either your tensor may have escaped or it is a bug in vmap")
    assert rederive_test(test) is None


def test_a_known_limitation_is_compared_by_the_real_error_it_quotes() -> None:
    reason = "known limitation: symbolic shapes cannot prove the guard; error: "
    same = old_not_cache(f"{reason}UserError: Constraints violated (new_tokens)!",
                         "UserError: Constraints violated (new_tokens)!")
    other = old_not_cache(f"{reason}UserError: Constraints violated (new_tokens)!",
                          "TorchRuntimeError: Dynamo failed to run FX node")
    assert rederive_test(same) is None
    assert rederive_test(other) is not None


def test_an_exception_with_only_its_name_differs_from_one_with_a_message() -> None:
    bare = "AssertionError at torch/fx/experimental/symbolic_shapes.py:1149"
    assert rederive_test(old_not_cache(bare, "AssertionError: Current active mode <ProxyTorchDispatchMode>")) is not None
    assert rederive_test(old_not_cache(bare, "AssertionError:")) is None


def test_an_error_that_names_no_exception_type_is_left_as_it_is() -> None:
    test = old_not_cache("the session stopped before this test", NO_FLAT_APPLY)
    assert rederive_test(test) is None
    assert test["cause"] == NOT_CACHE


def test_records_the_comparing_ladder_wrote_and_other_causes_are_never_touched() -> None:
    untouched = [
        {**old_not_cache(UNREGISTERED, ""), "cause_detail": f"{SAME_WAY}{NO_FLAT_APPLY} at torch/x.py:f"},
        {**old_not_cache(UNREGISTERED, ""), "cause": CACHE, "cause_detail": PROBE_PASSES},
        {**old_not_cache(UNREGISTERED, NO_FLAT_APPLY), "cause": "compat"},
    ]
    before = json.dumps(untouched)
    assert [rederive_test(test) for test in untouched] == [None, None, None]
    assert json.dumps(untouched) == before


def test_rederiving_twice_moves_nothing_the_second_time() -> None:
    runs = {"without": {"tests": [old_not_cache(UNREGISTERED, NO_FLAT_APPLY)]}}
    first = rederive_runs(runs)
    assert [(move.mode, move.test, move.old, move.new) for move in first] == [
        ("without", "saveload::test_saved[StaticCache]", NOT_CACHE, CACHE)]
    assert (first[0].error, first[0].probe_error) == (UNREGISTERED, NO_FLAT_APPLY)
    assert rederive_runs(runs) == []
