"""Register the transformers cache and layer classes as torch pytree nodes, and report who owns each."""

from __future__ import annotations

import importlib
import inspect
import threading
from dataclasses import asdict, dataclass

from .catalog import CACHE_CLASSES

OWNER = "compat"

_LOCK = threading.Lock()
_UNSUPPORTED: dict[str, str] = {}  # class name -> why registration failed on this torch
_OURS: set[type] = set()  # classes this package registered; nested ones become children


@dataclass(frozen=True)
class ClassReport:
    """Registration status of one catalogued class in the installed (torch, transformers)."""

    name: str
    status: str  # registered | already-registered | absent | unsupported
    owner: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """The JSON form used in matrix.json (`class`, `status`, `owner`, `reason`)."""
        data = asdict(self)
        data["class"] = data.pop("name")
        return data


def _cache_utils():
    return importlib.import_module("transformers.cache_utils")


def _present_classes() -> dict[str, type]:
    module = _cache_utils()
    return {entry.name: getattr(module, entry.name) for entry in CACHE_CLASSES if hasattr(module, entry.name)}


def _owner_of(cls: type) -> str | None:
    from torch.utils import _pytree as pytree

    node = pytree.SUPPORTED_NODES.get(cls)
    if node is None:
        return None
    module = getattr(node.flatten_fn, "__module__", None) or "unknown"
    return OWNER if module.split(".")[0] == OWNER else module


def _register_one(cls: type) -> None:
    import torch.fx._pytree as fx_pytree
    from torch.utils import _pytree as pytree

    from .node import from_dumpable_context, make_node_functions, to_dumpable_context

    fns = make_node_functions(_OURS)
    options = {
        "serialized_type_name": f"{cls.__module__}.{cls.__qualname__}",
        "to_dumpable_context": to_dumpable_context,
        "from_dumpable_context": from_dumpable_context,
    }
    if "flatten_with_keys_fn" in inspect.signature(pytree.register_pytree_node).parameters:
        options["flatten_with_keys_fn"] = fns["flatten_with_keys"]
    pytree.register_pytree_node(cls, fns["flatten"], fns["unflatten_for"](cls), **options)
    _OURS.add(cls)
    if cls not in fx_pytree.SUPPORTED_NODES:
        fx_pytree.register_pytree_flatten_spec(cls, fns["fx_flatten_spec"])


def register() -> list[ClassReport]:
    """Register every catalogued class present in the installed transformers; return the report.

    Idempotent and safe beside other registrations: a class somebody else (transformers itself, an
    exporter) registered first is left to them and reported as `already-registered`.
    """
    with _LOCK:
        for name, cls in _present_classes().items():
            if _owner_of(cls) is not None or name in _UNSUPPORTED:
                continue
            try:
                _register_one(cls)
            except ValueError as exc:
                if "already registered" not in str(exc):
                    _UNSUPPORTED[name] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # an older torch rejecting the registration is a verdict, not a crash
                _UNSUPPORTED[name] = f"{type(exc).__name__}: {exc}"
    return registration_report()


def registration_report() -> list[ClassReport]:
    """Say for each catalogued class: registered by us, already registered by another owner, absent, or
    unsupported on this torch (with the reason)."""
    present = _present_classes()
    reports = []
    for entry in CACHE_CLASSES:
        cls = present.get(entry.name)
        owner = _owner_of(cls) if cls is not None else None
        if cls is None:
            reports.append(ClassReport(entry.name, "absent", reason="not in transformers.cache_utils"))
        elif entry.name in _UNSUPPORTED:
            reports.append(ClassReport(entry.name, "unsupported", reason=_UNSUPPORTED[entry.name]))
        elif owner == OWNER:
            reports.append(ClassReport(entry.name, "registered", owner=OWNER))
        elif owner is not None:
            reports.append(ClassReport(entry.name, "already-registered", owner=owner))
        else:
            reports.append(ClassReport(entry.name, "unregistered", reason="register() has not been called"))
    return reports
