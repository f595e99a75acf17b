"""Runs inside one (torch, transformers) cell: sets up registration before any model is built, and tells
the verdict recorder (`-p kvmatrix.run.process.recorder`, loaded by the cell runner) what this cell is.

KVCC_REGISTRATION: "with" (default) calls `compat.register()` first; "without" is transformers alone; "tico"
registers with TICO's own `tico.utils.pytree_utils` instead (suites.support.tico_registration; the cell's tico
environment only, kvmatrix.run.clients).

Under pytest-xdist only the workers run tests, so only they import torch and transformers: the controller
(which records verdicts) stays a light process and gets the cell's description from a worker.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from kvmatrix.record.verdicts import MODES, TICO_MODE
from kvmatrix.settings import setting

pytest_plugins = ["kvmatrix.run.process.attribution", "suites.known_limitations"]


def runs_tests(config: pytest.Config) -> bool:
    """False only in a pytest-xdist controller, which distributes the tests and runs none itself."""
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_configure(config: pytest.Config) -> None:
    """Register (or not), call transformers' own helpers, and describe the cell for the recorder."""
    registration = setting("KVCC_REGISTRATION")
    if registration not in (*MODES, TICO_MODE):
        raise pytest.UsageError(f"KVCC_REGISTRATION must be 'with', 'without' or 'tico', not {registration!r}")
    if not runs_tests(config):
        return
    import compat

    if getattr(compat, "__distribution__", None) != "kv-cache-compat":
        raise pytest.UsageError(f"`import compat` resolves to {getattr(compat, '__file__', compat)!r}, not "
                                "kv-cache-compat's compat package (a module of the same name shadows it)")
    from compat.tiny import tiny_llama
    from compat.transformers_own import register_transformers_own
    from kvmatrix.run.process.recorder import ENVIRONMENT, registration_entry
    from suites.support.models import layout, static_layer_init

    tico_registered: list[str] = []
    if registration == "with":
        compat.register()
    elif registration == TICO_MODE:
        from suites.support.tico_registration import register_with_tico

        tico_registered = register_with_tico()
    helpers = register_transformers_own(tiny_llama())
    config.stash[ENVIRONMENT] = lambda: {
        "layout": layout(),
        "static_layer_init": static_layer_init(),
        "transformers_helpers_called": helpers,
        "registration_report": [registration_entry(asdict(r)) for r in compat.registration_report()],
        "tico_registered": tico_registered,
    }


@pytest.fixture(scope="session")
def model():
    """The tiny Llama shared by a suite session (read-only: tests never train it)."""
    from compat.tiny import tiny_llama

    return tiny_llama()


@pytest.fixture(autouse=True)
def no_leaked_vmap_level():
    """After each test, pop the vmap levels a failed export left open (kvmatrix.run.process.isolation), so that its
    failure stays its own and the next tests run as they would alone."""
    yield
    from kvmatrix.run.process.isolation import release_leaked_vmap_levels

    release_leaked_vmap_levels()
