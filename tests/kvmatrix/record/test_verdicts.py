"""kvmatrix.record.verdicts: suite verdict precedence, counts, the cell's `suites` section, error signatures."""

from __future__ import annotations

import pytest

from kvmatrix.record.verdicts import (
    CELL_STATUSES,
    TEST_VERDICTS,
    count_verdicts,
    error_signature,
    suite_verdict,
    summarize_suites,
)


def records(*verdicts: str, suite: str = "export") -> list[dict]:
    return [{"suite": suite, "name": f"test_{n}", "verdict": verdict} for n, verdict in enumerate(verdicts)]


def test_alphabet() -> None:
    assert TEST_VERDICTS == ("pass", "fail", "xfail", "n/a", "error", "flaky", "setup")
    assert CELL_STATUSES == ("ran", "not-installable", "infra", "error")


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["pass", "n/a", "xfail", "fail", "error"], "error"),
        (["n/a", "fail", "pass", "xfail"], "fail"),
        (["flaky", "fail", "setup"], "fail"),
        (["pass", "setup", "xfail", "flaky", "n/a"], "flaky"),
        (["xfail", "setup", "pass"], "setup"),
        (["pass", "xfail", "n/a"], "xfail"),
        (["n/a", "pass"], "pass"),
        (["n/a", "n/a"], "n/a"),
        (["pass", "skipped"], "error"),
    ],
)
def test_suite_verdict_precedence(verdicts: list[str], expected: str) -> None:
    assert suite_verdict(records(*verdicts)) == expected


def test_suite_without_tests_is_error() -> None:
    assert suite_verdict([]) == "error"


def test_count_verdicts_lists_the_verdicts_that_occur_in_alphabet_order() -> None:
    counts = count_verdicts(records("setup", "pass", "pass", "fail", "n/a", "mystery", "flaky", "setup"))
    assert counts == {"pass": 2, "fail": 1, "n/a": 1, "error": 1, "flaky": 1, "setup": 2}
    assert list(counts) == [verdict for verdict in TEST_VERDICTS if verdict != "xfail"]
    assert count_verdicts([]) == {}


def test_summarize_ran_cell() -> None:
    runs = {
        "with": {"tests": records("pass", "pass") + records("xfail", suite="compile")},
        "without": {"tests": records("pass", "fail") + records("n/a", suite="compile")},
    }
    zero: dict[str, int] = {}
    assert summarize_suites(runs, ["export", "roundtrip", "compile"], "ran") == {
        "export": {
            "with": {"verdict": "pass", "counts": {**zero, "pass": 2}},
            "without": {"verdict": "fail", "counts": {**zero, "pass": 1, "fail": 1}},
        },
        "roundtrip": {
            "with": {"verdict": "error", "counts": zero},
            "without": {"verdict": "error", "counts": zero},
        },
        "compile": {
            "with": {"verdict": "xfail", "counts": {**zero, "xfail": 1}},
            "without": {"verdict": "n/a", "counts": {**zero, "n/a": 1}},
        },
    }


@pytest.mark.parametrize("status", ["not-installable", "infra", "error"])
def test_summarize_cell_that_did_not_run(status: str) -> None:
    summary = summarize_suites({}, ["export", "compile"], status)
    expected = {"with": {"verdict": status, "counts": {}}, "without": {"verdict": status, "counts": {}}}
    assert summary == {"export": expected, "compile": expected}


def test_summarize_missing_mode_is_error() -> None:
    summary = summarize_suites({"with": {"tests": records("pass")}}, ["export"], "ran")
    assert summary["export"]["with"]["verdict"] == "pass"
    assert summary["export"]["without"] == {"verdict": "error", "counts": {}}


def test_summarize_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown cell status 'skipped'"):
        summarize_suites({}, ["export"], "skipped")


def test_error_signature_groups_messages_differing_in_numbers_and_addresses() -> None:
    first = "TypeError: cannot flatten <DynamicCache object at 0x7f3a2b1c0d10> at layer 3"
    second = "TypeError:  cannot flatten <DynamicCache object at 0x55d0e4a1b2c0> at layer 17"
    assert error_signature(first) == error_signature(second)
    assert error_signature(first) == "TypeError: cannot flatten <DynamicCache object at > at layer"
    assert error_signature(first) != error_signature("ValueError: cannot flatten at layer 3")


def test_error_signature_first_line_and_length() -> None:
    assert error_signature("\n  AssertionError: x  \nTraceback follows") == "AssertionError: x"
    assert len(error_signature("E" * 500)) == 160
    assert error_signature("") == ""
