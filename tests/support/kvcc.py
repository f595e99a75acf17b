"""What the tests of `kvcc check` (compat.check) on the host share."""

from __future__ import annotations

import pytest

MALFORMED = pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"format": "kvcc-verified/2",', "not valid JSON (Expecting property name enclosed in double quotes"),
        ("[1, 2]", "not a kvcc-verified/2 file: format 'list'"),
        ('{"format": "kvcc-verified/1"}', "not a kvcc-verified/2 file: format 'kvcc-verified/1'"),
    ],
    ids=["JSON syntax error", "not an object", "another format"],
)
"""Answers files `kvcc check --matrix` must refuse, and the problem its one line names."""
