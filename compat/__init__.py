"""Pytree registration of transformers KV caches for torch.export, torch.fx and torch.compile.

Importing this package has no side effects; call `register()` once (more calls do nothing more), or scope
it to a block with `registered()`:

    import compat
    compat.register()
    print(compat.registration_report())  # a ClassReport per catalogued class

    with compat.registered():
        program = torch.export.export(step, (ids, cache, position))

`use_export_mask(model)` switches a model to the vmap-free attention mask that transformers' own export
wrappers use, where the installed release has one (compat.export_mask), and says what it did.

Distributed as `kv-cache-compat`. The import name `compat` is generic (a user's own `compat.py` earlier on
sys.path would shadow it), so `compat.__distribution__` says whose it is; the suites refuse to run when it
is not "kv-cache-compat".
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .export_mask import MaskSwitch, use_export_mask
    from .registry import ClassReport, register, registered, registration_report, unregister

__version__ = "0.2.0"
__distribution__ = "kv-cache-compat"

__all__ = ["ClassReport", "MaskSwitch", "__distribution__", "__version__", "register", "registered",
           "registration_report", "unregister", "use_export_mask"]
_LAZY = {"MaskSwitch": "export_mask", "use_export_mask": "export_mask", "ClassReport": "registry",
         "register": "registry", "registered": "registry", "registration_report": "registry",
         "unregister": "registry"}
"""Each public name and the module that defines it, imported on first use (PEP 562): the package itself
imports neither torch nor transformers, so `kvcc --help` (compat.check) answers where they are missing."""


def __getattr__(name: str) -> Any:
    """The public name `name`, from its module (_LAZY), kept in the package once imported."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
