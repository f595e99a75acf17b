"""Pytree registration of transformers KV caches for torch.export, torch.fx and torch.compile.

Importing this package has no side effects; call `register()` once (more calls do nothing more):

    import compat
    compat.register()
    print([r.to_json() for r in compat.registration_report()])
"""

from .registry import ClassReport, register, registration_report

__all__ = ["ClassReport", "register", "registration_report"]
