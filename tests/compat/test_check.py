"""`kvcc check` (compat.check) inside a cell: the installed pair checked for real in a fresh process, its
answers agreeing with the published matrix; how the matrix and the nearest verified pair are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compat.check import (
    BROKEN,
    PROMPT,
    WITH_COMPAT,
    WORKS,
    Outcome,
    _model,
    _prefilled,
    _same_as_eager,
    _step_class,
    annotate,
    installed_pair,
    load_verified,
    report,
)

ROOT = Path(__file__).resolve().parents[2]
FORMAT = "kvcc-verified/2"


def _verified(*cells: tuple[str, str, str]) -> dict:
    return {"format": FORMAT, "generated_at": "t", "cells": [
        {"id": f"tf{tf}-torch{torch}", "transformers": tf, "torch": torch,
         "answers": {"export-x": {"answer": found, **({"requires": ["compat.register()"]} if found == WITH_COMPAT
                                                      else {})}}} for tf, torch, found in cells]}



def test_the_matrix_answer_and_the_nearest_working_pair_are_added_to_each_check() -> None:
    data = _verified(("4.57.6", "2.10.0", "broken"), ("4.57.6", "2.13.0", WITH_COMPAT), ("4.57.6", "2.8.0", WORKS),
                     ("5.0.0", "2.13.0", WORKS))
    outcome = Outcome("export-x", "export X", "broken", {"without": "E", "with": "E2"})
    annotate([outcome], data, ("4.57.6", "2.10.0"))
    assert outcome.matrix == "broken"
    # same release, newest torch first, with what its route requires
    assert outcome.nearest == "tf4.57.6-torch2.13.0: works with compat (compat.register())"
    elsewhere = Outcome("export-x", "export X", "broken")
    annotate([elsewhere], data, ("5.1.0", "2.13.0"))
    assert (elsewhere.matrix, elsewhere.nearest) == (None, "tf5.0.0-torch2.13.0: works")


def test_the_report_says_each_answer_and_why_a_check_broke() -> None:
    outcome = Outcome("export-x", "export X", "broken", {"without": "ValueError: a", "with": "TypeError: b"},
                      "works", "tf4.57.6-torch2.13.0")
    text = report([outcome, Outcome("p", "pytree", WORKS)], ("4.57.6", "2.10.0"), listed=True)
    assert "- export X: broken here" in text and "with registration: TypeError: b" in text
    assert "the matrix says: works" in text and "nearest verified pair where it works: tf4.57.6-torch2.13.0" in text
    assert "- pytree: works" in text


def test_a_program_that_ignores_its_cache_input_fails_the_check() -> None:
    step = _step_class()(_model())
    baked = _prefilled(step, "DynamicCache", PROMPT)

    def ignores_its_cache(token, cache, position):  # answers from the prompt's cache whatever it is given
        return step(token, baked, position)

    with pytest.raises(AssertionError, match="differs from eager on another cache"):
        _same_as_eager(step, "DynamicCache", ignores_its_cache)
    _same_as_eager(step, "DynamicCache", step)  # the honest program passes


def test_kvcc_check_in_a_fresh_process_agrees_with_the_published_matrix_for_this_pair() -> None:
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, check=False)
    result = json.loads(done.stdout)
    answers = {check["key"]: check["answer"] for check in result["checks"]}
    assert set(answers.values()) <= {WORKS, WITH_COMPAT, BROKEN}
    assert done.returncode == (1 if BROKEN in answers.values() else 0)
    assert (result["transformers"], result["torch"]) == installed_pair()
    verified = load_verified(None)
    here = [cell for cell in verified["cells"] if (cell["transformers"], cell["torch"]) == installed_pair()]
    if not here:
        pytest.skip(f"n/a: {installed_pair()} is not a pair of the published matrix")
    # kvcc checks the default route of each use: compared where that is the route the matrix answers with
    published = {key: found for key, found in here[0]["answers"].items()
                 if found.get("route", "").startswith("default+")}
    disagreements = {key: (answer, published[key]["answer"]) for key, answer in answers.items()
                     if key in published and published[key]["answer"] != answer}
    assert disagreements == {}
    assert result["in_matrix"] is True
