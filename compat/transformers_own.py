"""transformers' own pytree registration helpers, found by feature detection: what "transformers alone"
means in the matrix and in `kvcc check`.

The matrix runs every suite twice: "without" is transformers alone, i.e. whatever it registers at import
plus its own on-demand helpers that an exporter would call (`integrations.executorch` in 4.56+,
`exporters.exporter_dynamo` in 5.2x); "with" calls `compat.register()` first and then the same helpers,
which proves they coexist in that order. `kvcc check` calls the helpers first, then `compat.registered()`
where a check still fails.
"""

from __future__ import annotations

import importlib
from typing import Any

HELPERS: tuple[tuple[str, str, bool], ...] = (
    ("transformers.integrations.executorch", "register_dynamic_cache_export_support", False),
    ("transformers.exporters.exporter_dynamo", "register_cache_pytrees_for_model", True),
)
"""transformers' on-demand registration helpers: (module, function, whether it takes the model)."""


def register_transformers_own(model: Any) -> list[str]:
    """Call transformers' own pytree registration helpers that exist; return the names called."""
    called = []
    for module_name, function_name, takes_model in HELPERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        helper = getattr(module, function_name, None)
        if helper is not None:
            helper(*((model,) if takes_model else ()))
            called.append(f"{module_name}.{function_name}")
    return called
