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


def register_transformers_own(model: Any) -> list[str]:
    """Call transformers' own pytree registration helpers that exist; return the names called."""
    called = []
    helpers = [
        ("transformers.integrations.executorch", "register_dynamic_cache_export_support", ()),
        ("transformers.exporters.exporter_dynamo", "register_cache_pytrees_for_model", (model,)),
    ]
    for module_name, function_name, args in helpers:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        helper = getattr(module, function_name, None)
        if helper is not None:
            helper(*args)
            called.append(f"{module_name}.{function_name}")
    return called
