"""The TICO registration mode and the client suites in a cell record: each suite's `tico` summary, the
client suites' verdicts from the record's `clients`, `compat` compared with TICO's registration per test
(`tico_advantages`, `compat_advantages`), the compact table's `tico` entries and the checks on a result
file's optional keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvmatrix.plan.pins import Cell
from kvmatrix.publish.publish_run import published_cell
from kvmatrix.record.causes import compare_with_tico
from kvmatrix.record.cell_record import InstallOutcome, build_record
from kvmatrix.record.cell_results import CellResultError, check_cell_result
from kvmatrix.record.detail import split
from kvmatrix.record.schema import CELL_KEYS, OPTIONAL_CELL_KEYS
from kvmatrix.record.verdicts import MODES, PREDATES_CLIENTS, TICO_MODE, summarize_suites

CELL = Cell(transformers="4.55.4", torch="2.8.0")
SUITES = ["executorch", "export", "tico"]
NOT_INSTALLABLE = {"status": "not-installable", "reason": "executorch 1.0.1 requires torch>=2.9", "installed": None}


def case(name: str, verdict: str, suite: str = "export", error: str | None = None) -> dict[str, Any]:
    return {"suite": suite, "name": name, "verdict": verdict, "duration_s": 0.1, "reason": None, "error": error,
            "cause": None, "cause_detail": None, "upstream": None, "reruns": []}


def three_runs(with_: list[dict[str, Any]], without: list[dict[str, Any]],
               tico: list[dict[str, Any]] | None) -> dict[str, Any]:
    tests = {"with": with_, "without": without, **({TICO_MODE: tico} if tico is not None else {})}
    return {mode: {"exit_code": 1, "duration_s": 1.0, "log_tail": "", "tests": found, "meta": {}}
            for mode, found in tests.items()}


def test_the_tico_mode_is_not_one_every_cell_runs() -> None:
    assert TICO_MODE == "tico"
    assert MODES == ("with", "without")


def test_each_core_suite_gets_a_tico_summary_where_the_tico_run_exists() -> None:
    runs = three_runs([case("a", "pass")], [case("a", "fail")], [case("a", "fail"), case("b", "pass")])
    summary = summarize_suites(runs, ["export", "roundtrip"], "ran")
    assert summary["export"]["tico"] == {"verdict": "fail", "counts": {"pass": 1, "fail": 1}}
    assert summary["roundtrip"]["tico"] == {"verdict": "error", "counts": {}}


def test_a_cell_without_a_tico_run_has_no_tico_summary() -> None:
    summary = summarize_suites(three_runs([case("a", "pass")], [case("a", "pass")], None), ["export"], "ran")
    assert list(summary["export"]) == ["with", "without"]


def test_client_suites_are_not_repeated_under_tico_registration() -> None:
    runs = three_runs([case("run", "pass", suite="executorch")], [case("run", "pass", suite="executorch")], [])
    assert list(summarize_suites(runs, ["executorch"], "ran")["executorch"]) == ["with", "without"]


def test_a_client_that_did_not_run_gives_its_suite_its_status_and_reason_in_both_modes() -> None:
    runs = three_runs([case("a", "pass")], [case("a", "pass")], None)
    summary = summarize_suites(runs, SUITES, "ran", {"executorch": NOT_INSTALLABLE,
                                                      "tico": {"status": "ran", "reason": None}})
    expected = {"verdict": "not-installable", "counts": {}, "reason": NOT_INSTALLABLE["reason"]}
    assert summary["executorch"] == {"with": expected, "without": expected}
    assert summary["tico"]["with"] == {"verdict": "error", "counts": {}}


def test_a_client_suite_with_no_test_where_its_client_ran_is_an_error_with_the_client_s_reason() -> None:
    runs = three_runs([case("a", "pass")], [case("a", "pass")], None)
    why = "the with run reported no test (pytest exit 3): AttributeError: module 'torch' has no attribute 'int1'"
    summary = summarize_suites(runs, SUITES, "ran", {"executorch": {"status": "ran", "reason": why}})
    assert summary["executorch"]["with"] == {"verdict": "error", "counts": {}, "reason": why}
    assert "reason" not in summary["export"]["with"]


def test_a_record_without_clients_rolls_a_client_suite_up_from_its_tests_or_says_it_predates_them() -> None:
    runs = three_runs([case("run", "fail", suite="executorch")], [], None)
    summary = summarize_suites(runs, ["executorch", "export"], "ran")
    assert summary["executorch"]["with"] == {"verdict": "fail", "counts": {"fail": 1}}
    assert summary["executorch"]["without"] == {"verdict": "n/a", "counts": {}, "reason": PREDATES_CLIENTS}
    assert summary["export"]["without"] == {"verdict": "error", "counts": {}}  # a core suite with no test


def test_a_test_passing_only_under_ticos_registration_is_a_tico_advantage_with_compats_error() -> None:
    runs = three_runs(
        [case("a", "fail", error="flatten failed"), case("b", "pass"), case("c", "xfail"), case("d", "pass")],
        [case("a", "fail"), case("b", "fail"), case("c", "xfail"), case("d", "pass")],
        [case("a", "pass"), case("b", "error", error="no layer"), case("c", "xfail"), case("d", "pass"),
         case("only-tico", "pass")],
    )
    assert compare_with_tico(runs) == {
        "tico_advantages": [{"suite": "export", "name": "a", "verdict": "fail", "error": "flatten failed"}],
        "compat_advantages": 1,
    }


def test_a_cell_without_a_tico_run_has_nothing_to_compare() -> None:
    assert compare_with_tico(three_runs([case("a", "pass")], [case("a", "pass")], None)) == {}


def test_the_record_keeps_clients_and_the_tico_comparison_and_its_summary_writes_them_after_the_schema_keys() -> None:
    runs = three_runs([case("a", "fail")], [case("a", "fail")], [case("a", "pass")])
    clients = {"executorch": NOT_INSTALLABLE, "tico": {"status": "ran", "reason": None, "installed": "tico==0.2"}}
    record = build_record(CELL, InstallOutcome("ran"), [], runs, 1.0, SUITES, clients=clients)
    assert record["clients"] == clients
    assert record["tico_advantages"] == [{"suite": "export", "name": "a", "verdict": "fail", "error": None}]
    assert record["compat_advantages"] == 0
    summary, detail = split(record)
    assert list(summary) == [*CELL_KEYS, *OPTIONAL_CELL_KEYS[:3]]
    assert summary["tests"] == {"export::a": {"with": ["fail"], "without": ["fail"], "tico": ["pass"]}}
    assert set(detail["runs"]) == {"with", "without", "tico"}


def test_a_record_of_a_run_without_tico_or_clients_has_none_of_their_keys() -> None:
    record = build_record(CELL, InstallOutcome("ran"), [], three_runs([case("a", "pass")], [], None), 1.0, ["export"])
    assert not {"clients", "tico_advantages", "compat_advantages"} & record.keys()


def cell_result(**keys: Any) -> dict[str, Any]:
    runs = three_runs([case("a", "pass")], [case("a", "pass")], [case("a", "pass")])
    return {**build_record(CELL, InstallOutcome("ran"), [], runs, 1.0, ["export"]), **keys}


def test_a_result_with_well_formed_clients_and_comparison_is_accepted() -> None:
    result = cell_result(clients={"executorch": NOT_INSTALLABLE})
    assert check_cell_result(result, CELL, Path("r.json")) is result


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"clients": {"tvm": {"status": "ran"}}}, "clients entry 'tvm'"),
        ({"clients": {"tico": {"status": "skipped"}}}, "clients entry 'tico'"),
        ({"clients": []}, "clients is an array"),
        ({"compat_advantages": "2"}, "compat_advantages is a string"),
        ({"tico_advantages": [{"suite": "export"}]}, "tico_advantages entry #1"),
    ],
)
def test_a_result_with_malformed_clients_or_comparison_is_refused(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(CellResultError, match=problem):
        check_cell_result(cell_result(**keys), CELL, Path("r.json"))


def test_the_publish_summarises_a_client_suite_from_the_records_clients() -> None:
    record = build_record(CELL, InstallOutcome("ran"), [], three_runs([case("a", "pass")], [case("a", "pass")], None),
                          1.0, ["export"], clients={"executorch": NOT_INSTALLABLE})
    summary, _ = published_cell(record, SUITES)
    assert summary["suites"]["executorch"]["without"]["verdict"] == "not-installable"
    assert summary["suites"]["tico"]["with"] == {"verdict": "error", "counts": {}}
    assert summary["clients"] == {"executorch": NOT_INSTALLABLE}
