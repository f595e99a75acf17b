"""Register the transformers cache and layer classes as torch pytree nodes, and report who owns each."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .catalog import CACHE_CLASSES
from .helper_calls import HelperCalls
from .pytree_api import (
    claim_serialized_name,
    register_node,
    registered_flatten,
    release_serialized_name,
    remove_node,
    why_nodes_cannot_be_removed,
)
from .state import CONTEXT_FORMAT

if TYPE_CHECKING:
    from .node import NodeFunctions

OWNER = "compat"

_LOCK = threading.RLock()
_UNSUPPORTED: dict[str, str] = {}  # class name -> why registration failed on this torch
_OURS: dict[type, NodeFunctions] = {}
"""The classes this copy of compat registered, with the node functions it registered them with. Ownership
is decided by identity against these functions, so a vendored copy (`mypkg._vendor.compat`) still knows
its own registrations, and another copy's are someone else's."""
_NODE_TYPES: set[type] = set()
"""The same classes as a plain set, read by flatten (also under dynamo) to store nested caches as children."""
_LEAF_ORDER: dict[type, str] = {}  # compat.comparison's verdict per class, computed once per process
_CLAIMED: dict[type, str] = {}
"""Other registrations' serialized name (the plain class name) claimed per class, so that loading their
programs reaches compat's refusal naming both formats (see `pytree_api.claim_serialized_name`)."""
_HELPER_CALLS = HelperCalls(_LOCK, lambda: bool(_OURS))
"""transformers' own registration helpers called while this copy holds registrations: replayed once it
removes them, so that transformers' registration is in force as it would have been without compat."""


@dataclass(frozen=True)
class ClassReport:
    """Registration status of one catalogued class in the installed (torch, transformers)."""

    name: str
    status: str  # registered | already-registered | absent | unsupported
    owner: str | None = None
    reason: str | None = None
    leaf_order_vs_transformers: str | None = None  # compat.comparison; None for a class not present


class TransformersMissing(ImportError):
    """transformers cannot be imported, so there is nothing to register."""


def _cache_utils() -> Any:
    try:
        return importlib.import_module("transformers.cache_utils")
    except ImportError as exc:
        raise TransformersMissing(f"transformers is not importable: {exc}") from exc


def _present_classes() -> dict[str, type]:
    module = _cache_utils()
    return {entry.name: getattr(module, entry.name) for entry in CACHE_CLASSES if hasattr(module, entry.name)}


def _owner_of(cls: type) -> str | None:
    flatten = registered_flatten(cls)
    if flatten is None:
        return None
    ours = _OURS.get(cls)
    if ours is not None and flatten is ours.flatten:
        return OWNER
    return getattr(flatten, "__module__", None) or "unknown"


def _register_one(cls: type) -> None:
    from .node import from_dumpable_context, make_node_functions, to_dumpable_context

    fns = make_node_functions(_NODE_TYPES)
    plain_name = f"{cls.__module__}.{cls.__qualname__}"
    register_node(
        cls, fns.flatten, fns.unflatten_for(cls), fns.flatten_with_keys, fns.fx_flatten_spec,
        serialized_type_name=f"{CONTEXT_FORMAT}:{plain_name}",
        to_dumpable_context=to_dumpable_context,
        from_dumpable_context=lambda dumped: from_dumpable_context(dumped, cls),
    )
    _OURS[cls] = fns
    _NODE_TYPES.add(cls)
    if claim_serialized_name(cls, plain_name):
        _CLAIMED[cls] = plain_name


def _forget(cls: type) -> None:
    """Remove our registration of `cls` (if torch still holds ours) and stop counting it as ours."""
    if _owner_of(cls) == OWNER:
        remove_node(cls, _OURS[cls].fx_flatten_spec)
    if cls in _CLAIMED:
        release_serialized_name(cls, _CLAIMED.pop(cls))
    _OURS.pop(cls, None)
    _NODE_TYPES.discard(cls)


def _forget_and_replay(classes: list[type]) -> None:
    """Forget our registration of `classes`, then make again the helper calls of transformers that ours
    turned into no-ops (compat.helper_calls); once we hold nothing, stop watching the helpers."""
    try:
        for cls in classes:
            _forget(cls)
        _HELPER_CALLS.replay()
    finally:
        if not _OURS:
            _HELPER_CALLS.stop()


def register() -> list[ClassReport]:
    """Register every catalogued class present in the installed transformers; return the report.

    Idempotent and safe beside other registrations: a class somebody else (transformers itself, an
    exporter) registered first is left to them and reported as `already-registered`. Without transformers
    there is nothing to register: every class is reported `absent`, saying so.
    """
    with _LOCK:
        try:
            present = _present_classes()
        except TransformersMissing:
            return registration_report()
        for name, cls in present.items():
            if _owner_of(cls) is not None or name in _UNSUPPORTED:
                continue
            try:
                _register_one(cls)
            except ValueError as exc:
                if "already registered" not in str(exc):
                    _UNSUPPORTED[name] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # an older torch rejecting the registration is a verdict, not a crash
                _UNSUPPORTED[name] = f"{type(exc).__name__}: {exc}"
        if _OURS and why_nodes_cannot_be_removed() is None:  # where nodes stay for good, nothing is replayed
            _HELPER_CALLS.watch()
    return registration_report()


def unregister() -> list[ClassReport]:
    """Remove every registration this copy of compat made (others' are left alone); return the report.

    transformers' own registration helpers called meanwhile (which did nothing for the classes we held) are
    called again afterwards, so that transformers' registration is then in force exactly as it would have
    been without compat; with no such call, a class is left unregistered, as transformers alone leaves it.

    Where the installed torch cannot remove a pytree node, nothing is removed and every class we registered
    is reported `unsupported` with the reason (its registration stays in force).
    """
    with _LOCK:
        reason = why_nodes_cannot_be_removed()
        if reason is not None:
            return [report if report.status != "registered" else
                    ClassReport(report.name, "unsupported", OWNER, f"cannot unregister: {reason}")
                    for report in registration_report()]
        _forget_and_replay(list(_OURS))
    return registration_report()


@contextmanager
def registered() -> Iterator[list[ClassReport]]:
    """`with compat.registered() as report:` registers for the block and, on the way out, removes the
    registrations this block added (not ones made before it), leaving the process as it found it plus what
    transformers' helpers called inside the block would have registered without compat (as `unregister()`
    does). Raises
    NotImplementedError up front where the installed torch cannot remove a pytree node."""
    reason = why_nodes_cannot_be_removed()
    if reason is not None:
        raise NotImplementedError(f"compat.registered() needs to unregister, but {reason}")
    with _LOCK:
        before = set(_OURS)
        report = register()
        added = [cls for cls in _OURS if cls not in before]
    try:
        yield report
    finally:
        with _LOCK:
            _forget_and_replay(added)


def _leaf_order(cls: type, present: dict[str, type]) -> str:
    from .comparison import leaf_order_vs_transformers

    if cls not in _LEAF_ORDER:
        _LEAF_ORDER[cls] = leaf_order_vs_transformers(cls, tuple(present.values()))
    return _LEAF_ORDER[cls]


def registration_report() -> list[ClassReport]:
    """Say for each catalogued class: registered by us, already registered by another owner, absent, or
    unsupported on this torch (with the reason), and how its leaf order and key paths compare with
    transformers' own flattening; without transformers, every class is absent, saying so."""
    try:
        present = _present_classes()
    except TransformersMissing as exc:
        return [ClassReport(entry.name, "absent", reason=str(exc)) for entry in CACHE_CLASSES]
    reports = []
    for entry in CACHE_CLASSES:
        cls = present.get(entry.name)
        owner = _owner_of(cls) if cls is not None else None
        if cls is None:
            reports.append(ClassReport(entry.name, "absent", reason="not in transformers.cache_utils"))
            continue
        order = _leaf_order(cls, present)
        if entry.name in _UNSUPPORTED:
            reports.append(ClassReport(entry.name, "unsupported", reason=_UNSUPPORTED[entry.name],
                                       leaf_order_vs_transformers=order))
        elif owner == OWNER:
            reports.append(ClassReport(entry.name, "registered", owner=OWNER, leaf_order_vs_transformers=order))
        elif owner is not None:
            reports.append(ClassReport(entry.name, "already-registered", owner=owner,
                                       leaf_order_vs_transformers=order))
        else:
            reports.append(ClassReport(entry.name, "unregistered", reason="register() has not been called",
                                       leaf_order_vs_transformers=order))
    return reports
