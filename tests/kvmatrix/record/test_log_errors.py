"""Why a run reported no test, from its log (kvmatrix.record.log_errors), and the cell record saying it
instead of "see the log" (kvmatrix.record.cell_record)."""

from __future__ import annotations

from kvmatrix.plan.pins import Cell
from kvmatrix.record.cell_record import InstallOutcome, build_record
from kvmatrix.record.log_errors import first_error
from kvmatrix.record.verdicts import ERROR, RAN

# The head of a real log: transformers 5.25.0 on torch 2.5.1 (tf5.25.0-torch2.5.1 of the full grid).
REFUSED_TORCH = """bringing up nodes...
[transformers] Disabling PyTorch because PyTorch >= 2.6 is required but found 2.5.1
[transformers] PyTorch was not found. Models won't be available and only tokenizers, configuration and file/data utilities can be used.
INTERNALERROR> Traceback (most recent call last):
INTERNALERROR> NameError: name 'nn' is not defined
INTERNALERROR> RuntimeError: Unexpectedly no active workers available
"""


def test_transformers_refusing_the_torch_is_the_reason_not_the_nameerror_it_leads_to() -> None:
    assert first_error(REFUSED_TORCH.splitlines()) == (
        "Disabling PyTorch because PyTorch >= 2.6 is required but found 2.5.1")


def test_without_a_notice_the_first_exception_line_is_the_reason() -> None:
    log = ["collecting ...", "E   ImportError: cannot import name 'StaticLayer'", "E   RuntimeError: later"]
    assert first_error(log) == "ImportError: cannot import name 'StaticLayer'"
    assert first_error(["Traceback (most recent call last):", "1 passed"]) is None


def test_a_cell_whose_runs_reported_no_test_is_an_error_with_the_reason_its_log_gives() -> None:
    runs = {mode: {"exit_code": 3, "duration_s": 14.0, "log_tail": "RuntimeError: no active workers", "tests": [],
                   "log_reason": first_error(REFUSED_TORCH.splitlines())} for mode in ("with", "without")}
    record = build_record(Cell(transformers="5.25.0", torch="2.5.1"), InstallOutcome(RAN, None), [], runs, 20.0,
                          ["export"])
    assert record["status"] == ERROR
    assert record["status_reason"] == (
        "no suite run reported any test; the with run's log (pytest exit 3): "
        "Disabling PyTorch because PyTorch >= 2.6 is required but found 2.5.1")
