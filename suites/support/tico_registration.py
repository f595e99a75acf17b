"""TICO's own cache registration (`KVCC_REGISTRATION=tico`): what a TICO user gets instead of compat's."""

from __future__ import annotations

import importlib

TICO_PYTREE_MODULE = "tico.utils.pytree_utils"
REGISTER_PREFIX = "register_"


def register_with_tico() -> list[str]:
    """Call every `register_*` function the installed TICO's pytree module exports (its `__all__`, else its
    public names), found by feature, none of compat's; returns the names called, in that order. No such
    function at all raises RuntimeError: the mode would silently be `without`."""
    module = importlib.import_module(TICO_PYTREE_MODULE)
    names = list(getattr(module, "__all__", None) or dir(module))
    called = []
    for name in names:
        function = getattr(module, name, None)
        if name.startswith(REGISTER_PREFIX) and callable(function):
            function()
            called.append(name)
    if not called:
        raise RuntimeError(f"{TICO_PYTREE_MODULE} has no {REGISTER_PREFIX}* function: nothing to register")
    return called
