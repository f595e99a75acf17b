"""Routes that no pytree registration can reach, run once per cell.

transformers' export wrapper keeps its StaticCache inside the program (buffers, not inputs or outputs), and
dynamo traces a cache as a Python object, never through its pytree node: what such a route does is the same
with and without compat.register() (the wrapper, compile and ExecuTorch columns recorded the same verdict in
both runs in every cell published before they ran once). The wrapper column itself still runs in every mode,
so an export that compat.register() broke would show there.
"""

from __future__ import annotations

import pytest

from kvmatrix.settings import setting

ONCE_MODE = "without"
"""The registration mode that runs the routes no registration can reach, so that a working route is answered
as working with transformers alone."""


def only_once_per_cell(route: str) -> None:
    """Skip as n/a outside ONCE_MODE: `route` cannot see the pytree registration."""
    mode = setting("KVCC_REGISTRATION")
    if mode != ONCE_MODE:
        pytest.skip(f"n/a: {route} cannot see the pytree registration; it runs once per cell, in the "
                    f"{ONCE_MODE!r} run, not in {mode!r}")
