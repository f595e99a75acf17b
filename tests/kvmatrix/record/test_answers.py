"""kvmatrix.record.answers: uses.json, its since summaries read from every published matrix, and the published
answers held against the records they come from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.record.answers import FORMAT, PairRecord, newest_per_pair, since, uses_document, uses_text
from kvmatrix.record.matrix import load_matrix
from kvmatrix.record.uses import BY_KEY, FAMILY_TITLES
from tests.support.records import FAMILY_OUTCOMES, family_cells

ROOT = Path(__file__).resolve().parents[3]
PUBLISHED = ("", "latest/", "full/")
MODE_CALLS = {"without": set(), "with": {"compat.register()"}, "tico": {"tico.utils.pytree_utils register_*()"}}


def record(transformers: str, torch: str, found: str, requires: tuple[str, ...] = (), dataset: str = "default",
           finished_at: str = "2026-12-01T00:00:00Z") -> PairRecord:
    return PairRecord(transformers, torch, found, requires, dataset, f"tf{transformers}-torch{torch}", finished_at)


def test_each_pair_counts_once_by_its_newest_record() -> None:
    old = record("4.57.6", "2.13.0", "broken", finished_at="2026-11-01T00:00:00Z", dataset="full")
    new = record("4.57.6", "2.13.0", "works", finished_at="2026-12-01T00:00:00Z", dataset="default")
    assert newest_per_pair([old, new]) == [new] == newest_per_pair([new, old])


def test_the_since_line_finds_the_torch_threshold_and_marks_untested_pairs() -> None:
    records = [record(tf, torch, "works" if torch == "2.15.0" else "broken")
               for tf in ("4.54.1", "4.57.6", "5.25.0") for torch in ("2.13.0", "2.15.0") if (tf, torch) != ("4.54.1", "2.13.0")]
    summary = since(records)
    assert summary["line"] == "works on torch >= 2.15 with every transformers tested"
    assert summary["by_transformers"]["4.54"] == {"2.13": "untested", "2.15": "works"}
    assert summary["by_torch"]["2.13"] == {"4.54": "untested", "4.57": "broken", "5.25": "broken"}
    assert summary["recommended"] == {"pair": "tf5.25.0-torch2.15.0", "requires": [], "dataset": "default",
                                      "plain": None}


def test_the_since_line_names_the_exceptions_to_its_threshold_and_what_the_pairs_need() -> None:
    records = [record("4.46.3", "2.5.1", "works with compat", ("compat.register()",)),
               record("4.53.3", "2.7.1", "broken"), record("4.57.6", "2.13.0", "broken"),
               record("4.57.6", "2.15.0", "works"), record("5.25.0", "2.15.0", "works")]
    assert since(records)["line"] == ("works on torch >= 2.15 with every transformers tested, and also on "
                                      "tf4.46+torch2.5 (1 of them with compat.register())")


def test_a_use_that_works_nowhere_or_everywhere_says_so() -> None:
    assert since([record("4.57.6", "2.13.0", "broken")])["line"] == "works in none of the 1 pair tested"
    assert since([record("4.57.6", "2.13.0", "known limitation")])["line"] == \
        "a known limitation in none of the 1 pair tested"
    assert since([record("4.57.6", "2.13.0", "works with compat", ("compat.register()",))])["line"] == \
        "works in every pair tested (1) (with compat.register())"
    assert since([record("4.57.6", "2.13.0", "not-installable")])["recommended"] is None


def test_the_since_summary_reads_the_other_published_matrices_and_the_newest_record_wins() -> None:
    tests = "export::test_decode_step_exports_and_matches_eager[DynamicCache-non-strict-dynamic]"

    def matrix(pairs: dict[str, str], stamp: str) -> dict[str, Any]:
        return {"generated_at": stamp, "cells": [
            {"id": pair, "status": "ran", "pins": dict(zip(("transformers", "torch"),
                                                          pair.removeprefix("tf").split("-torch"), strict=True)),
             "tests": {tests: {"with": [verdict], "without": [verdict]}}} for pair, verdict in pairs.items()]}

    default = matrix({"tf4.57.6-torch2.13.0": "fail"}, "2026-12-05T00:00:00Z")
    full = matrix({"tf4.57.6-torch2.13.0": "pass", "tf5.25.0-torch2.15.0": "pass"}, "2026-12-01T00:00:00Z")
    document = uses_document(default, "default", {"full": (full, {})}, {})
    use = next(use for use in document["uses"] if use["key"] == "export-dynamiccache-non-strict-dynamic")
    assert document["sources"] == ["default", "full"] and document["format"] == FORMAT
    assert use["since"]["by_transformers"] == {"4.57": {"2.13": "broken", "2.15": "untested"},
                                               "5.25": {"2.13": "untested", "2.15": "works"}}
    assert use["since"]["recommended"]["pair"] == "tf5.25.0-torch2.15.0"
    assert list(use["answers"]) == ["tf4.57.6-torch2.13.0"]


def _published(prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (load_matrix(ROOT / "reports" / f"{prefix}matrix.json"),
            json.loads((ROOT / "reports" / f"{prefix}uses.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("prefix", PUBLISHED)
def test_a_published_answer_works_exactly_when_a_route_of_its_use_passes_in_the_records(prefix: str) -> None:
    """Held against matrix.json's test table directly, not through the code that made the answers: a route
    is a variant's tests in one registration mode, and it passes when every one of them that exists does."""
    matrix, uses = _published(prefix)
    wrong = []
    for use in uses["uses"]:
        variants = BY_KEY[use["key"]].variants
        for cell in matrix["cells"]:
            found = use["answers"][cell["id"]]
            if cell["status"] != "ran" or (cell.get("clients") or {}).get(use["suite"], {}).get("status", "ran") != "ran":
                continue
            passing = []
            for variant in variants:
                names = [key for key in cell["tests"] if key.startswith(f"{use['suite']}::")
                         and re.match(variant.tests, key.split("::", 1)[1])]
                for mode, calls in MODE_CALLS.items():
                    verdicts = [(cell["tests"][key].get(mode) or [None])[0] for key in names]
                    verdicts = [v for v in verdicts if v not in ("n/a", None)]
                    if verdicts and all(v == "pass" for v in verdicts):
                        passing.append(calls | set(variant.calls))
            works = found["answer"].startswith("works")
            if works != bool(passing):
                wrong.append(f"{use['key']} {cell['id']}: {found['answer']} but passing routes {passing}")
            elif works and set(found["requires"]) not in passing:  # compat and the mask named where needed
                wrong.append(f"{use['key']} {cell['id']}: requires {found['requires']}, not a passing route's")
    assert wrong == []


@pytest.mark.parametrize("prefix", PUBLISHED)
def test_the_published_uses_file_is_what_the_published_matrices_give(prefix: str) -> None:
    from kvmatrix.publish.datasets import finished_dates, published_datasets

    folder = ROOT / "reports" / prefix
    matrix, uses = _published(prefix)
    name = prefix.rstrip("/") or "default"
    assert uses == uses_document(matrix, name, published_datasets(folder), finished_dates(folder, matrix))


@pytest.fixture
def family_matrix(pins: Any, published: Any) -> dict[str, Any]:
    """The matrix of tests.support.records.family_cells."""
    return published(pins, family_cells(), suites=["export", "families"])[0]


def test_each_model_family_answers_by_its_best_route_with_the_rules_of_a_use(family_matrix: dict) -> None:
    families = {family["key"]: family for family in uses_document(family_matrix)["families"]}
    assert list(families) == list(FAMILY_TITLES)
    ran = {key: family["answers"]["tf4.57.6-torch2.13.0"] for key, family in families.items()}
    summary = {key: (found["answer"], found["route"], found["requires"]) for key, found in ran.items()
               if key in FAMILY_OUTCOMES}
    assert summary == {
        "llama": ("works", "wrapper-strict+transformers", ["strict=True"]),
        "qwen3": ("works with compat", "wrapper-strict+compat", ["compat.register()", "strict=True"]),
        "gemma": ("broken", "wrapper-strict+compat", ["compat.register()", "strict=True"]),
        "phi3": ("works", "dynamic-cache-step-non-strict+transformers", ["strict=False"]),
        "smollm3": ("n/a", None, []),
    }
    assert ran["gemma"]["cause"] == "cache"
    # every route that exists is listed with its verdict, a failing one beside the one that works
    assert ["dynamic-cache-step-non-strict+compat", "fail", "cache", None] in ran["qwen3"]["routes"]
    assert len(ran["qwen3"]["routes"]) == 6 and len(ran["phi3"]["routes"]) == 2


def test_a_family_answers_n_a_where_none_of_its_tests_ran_and_the_cell_status_where_the_cell_did_not(
    family_matrix: dict
) -> None:
    for family in uses_document(family_matrix)["families"]:
        assert family["answers"]["tf4.46.3-torch2.5.1"]["answer"] == "n/a"
        assert family["answers"]["tf5.24.0-torch2.13.0"]["answer"] == "not-installable"
        if family["key"] not in FAMILY_OUTCOMES:
            assert family["answers"]["tf4.57.6-torch2.13.0"]["answer"] == "n/a"


def test_the_uses_file_writes_one_line_per_use_and_per_family(family_matrix: dict) -> None:
    document = uses_document(family_matrix)
    lines = uses_text(document).splitlines()
    assert json.loads(uses_text(document)) == document
    assert sum(line.startswith('{"key":"') for line in lines) == len(document["uses"]) + len(FAMILY_TITLES)
    (qwen3,) = [line for line in lines if line.startswith('{"key":"qwen3"')]
    assert json.loads(qwen3.rstrip(","))["variants"][0] == {
        "key": "wrapper-strict", "title": "transformers' export wrapper, strict", "calls": ["strict=True"]}
