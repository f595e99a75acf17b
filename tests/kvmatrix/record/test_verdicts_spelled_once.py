"""One definition of the verdict alphabet (kvmatrix.record.verdicts: its groups, labels and meanings) and of
the answer words (compat.check for those kvcc check gives too, kvmatrix.record.uses for the rest): every
verdict is complete there, and no other module, the page's script included, spells them again."""

from __future__ import annotations

import re

import pytest

from compat import check
from kvmatrix import REPO_ROOT
from kvmatrix.record import uses, verdicts
from kvmatrix.render.html import PAGE_ASSETS
from kvmatrix.render.page_data import page_data

SOURCES = sorted(path for folder in ("kvmatrix", "compat", "suites") for pattern in ("*.py", "*.js")
                 for path in (REPO_ROOT / folder).rglob(pattern))
ALPHABET = {*verdicts.TEST_VERDICTS, *verdicts.CLIENT_STATUSES} - {verdicts.RAN}
GROUPS = (verdicts.SEVERITY, verdicts.ROLL_UP, verdicts.LISTED, verdicts.RERUN, verdicts.REGRESSING,
          verdicts.FAILING, verdicts.FAILING_TESTS, verdicts.CLIENT_DID_NOT_RUN)


def spelled(word: str) -> list[str]:
    """The source files that spell `word` as a (double-quoted: ruff's style) string literal; prose in an
    f-string's single quotes is not a definition."""
    pattern = re.compile(rf'"{re.escape(word)}"')
    return [str(path.relative_to(REPO_ROOT)) for path in SOURCES if pattern.search(path.read_text(encoding="utf-8"))]


def test_every_verdict_has_a_label_a_meaning_and_a_place_in_the_roll_up() -> None:
    assert set(verdicts.LABELS) == set(verdicts.MEANINGS) == set(verdicts.ROLL_UP) == ALPHABET
    assert all(set(group) <= ALPHABET for group in GROUPS)
    assert verdicts.LISTED == tuple(v for v in verdicts.SEVERITY if v not in (verdicts.PASS, verdicts.NA))


@pytest.mark.parametrize("label", verdicts.LABELS.values())
def test_a_verdict_label_is_written_only_in_verdicts(label: str) -> None:
    assert spelled(label) == ["kvmatrix/record/verdicts.py"]


@pytest.mark.parametrize(("word", "home"), [
    *((word, "compat/check.py") for word in (check.WORKS, check.WITH_COMPAT, check.WITH_MASK, check.BROKEN,
                                              check.COMPAT_CALL, check.MASK_CALL)),
    *((word, "kvmatrix/record/uses.py") for word in (uses.WITH_TICO, uses.KNOWN_LIMITATION, uses.SETUP_FAILS)),
])
def test_an_answer_word_is_written_only_in_its_home(word: str, home: str) -> None:
    assert spelled(word) == [home]


def test_the_page_script_reads_the_listed_verdicts_from_its_data() -> None:
    script = (PAGE_ASSETS / "page.js").read_text(encoding="utf-8")
    names = "|".join(re.escape(verdict) for verdict in ALPHABET)
    assert not re.search(rf"""\[\s*(["'])({names})\1\s*,""", script), "page.js lists verdicts of its own"
    assert "data.listed" in script
    assert page_data({"generated_at": "x", "suites": [], "cells": []}, {})["listed"] == list(verdicts.LISTED)

