"""Runs inside one (torch, transformers) cell: sets up registration and records a verdict per test.

Environment:
- KVCC_REGISTRATION: "with" (default) calls `compat.register()` first; "without" is transformers alone.
- KVCC_RESULTS: where to write the `kvcc-cell-run/1` JSON (docs/matrix-schema.md); unset = not written.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["suites.known_limitations"]


def pytest_configure(config: pytest.Config) -> None:
    """Register (or not) before any test module builds a model, then start recording verdicts."""
    registration = os.environ.get("KVCC_REGISTRATION", "with")
    if registration not in ("with", "without"):
        raise pytest.UsageError(f"KVCC_REGISTRATION must be 'with' or 'without', not {registration!r}")
    import compat
    from suites.baseline import register_transformers_own
    from suites.models import tiny_llama
    from suites.recorder import VerdictRecorder

    if registration == "with":
        compat.register()
    helpers = register_transformers_own(tiny_llama())
    config.pluginmanager.register(VerdictRecorder(registration, os.environ.get("KVCC_RESULTS"), helpers))


@pytest.fixture(scope="session")
def model():
    """The tiny Llama shared by a suite session (read-only: tests never train it)."""
    from suites.models import tiny_llama

    return tiny_llama()
