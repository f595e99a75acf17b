"""The one place compat touches torch's pytree modules (python pytree, its serialization tables, and
torch.fx's flatten specs), so that what differs between torch releases is handled here only; the rest of
compat takes tree_flatten / tree_unflatten / tree_leaves and the key classes from here (PUBLIC_NAMES).

Everything goes through the private `torch.utils._pytree`: no torch from 2.5 to 2.15 has a public
`torch.utils.pytree`. Should a later one add it, registration stays here unless it registers exactly the
same: a public module that also registers with the C++ pytree would change what export and compile see,
so the verdicts. `register_pytree_node` also feeds the C++ pytree when optree is installed, as it always
did. Removal uses `_deregister_pytree_node`, which only newer torches have, and is refused where the C++
pytree may hold the class too (optree installed): there nothing could remove it from that second registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

PUBLIC_NAMES = ("tree_flatten", "tree_unflatten", "tree_leaves", "GetAttrKey", "MappingKey", "SequenceKey")
"""torch's own pytree functions and key classes, the very same objects, imported from here on first use."""


def _pytree() -> Any:
    from torch.utils import _pytree

    return _pytree


def __getattr__(name: str) -> Any:
    """One of PUBLIC_NAMES, kept here once read (PEP 562: importing the shim imports no torch)."""
    if name not in PUBLIC_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_pytree(), name)
    globals()[name] = value
    return value


def _fx_pytree() -> Any:
    import torch.fx._pytree as fx_pytree

    return fx_pytree


def registered_flatten(cls: type) -> Callable[..., Any] | None:
    """The flatten function of the pytree node registered for exactly `cls`, or None."""
    node = _pytree().SUPPORTED_NODES.get(cls)
    return None if node is None else node.flatten_fn


def register_node(cls: type, flatten: Callable[..., Any], unflatten: Callable[..., Any],
                  flatten_with_keys: Callable[..., Any], fx_flatten_spec: Callable[..., Any],
                  **serialization: Any) -> None:
    """Register `cls` as a pytree node (with key paths where this torch supports them) and give it an fx
    flatten spec unless it has one. `serialization`: serialized_type_name and the dumpable-context hooks."""
    pytree = _pytree()
    options = dict(serialization)
    if "flatten_with_keys_fn" in inspect.signature(pytree.register_pytree_node).parameters:
        options["flatten_with_keys_fn"] = flatten_with_keys
    pytree.register_pytree_node(cls, flatten, unflatten, **options)
    fx_pytree = _fx_pytree()
    if cls not in fx_pytree.SUPPORTED_NODES:
        fx_pytree.register_pytree_flatten_spec(cls, fx_flatten_spec)


def why_nodes_cannot_be_removed() -> str | None:
    """None where this torch can remove a pytree node again, else the reason."""
    pytree = _pytree()
    if not hasattr(pytree, "_deregister_pytree_node"):
        return "this torch cannot remove a pytree node (no torch.utils._pytree._deregister_pytree_node)"
    if getattr(pytree, "_cxx_pytree_exists", None):
        return "optree is installed: torch's C++ pytree registry keeps a registered class for good"
    return None


def remove_node(cls: type, fx_flatten_spec: Callable[..., Any]) -> None:
    """Remove `cls`'s pytree node, and its fx flatten spec when it is `fx_flatten_spec` (ours)."""
    _pytree()._deregister_pytree_node(cls)
    fx_pytree = _fx_pytree()
    if fx_pytree.SUPPORTED_NODES.get(cls) is fx_flatten_spec:
        del fx_pytree.SUPPORTED_NODES[cls]
        getattr(fx_pytree, "SUPPORTED_NODES_EXACT_MATCH", {}).pop(cls, None)


def claim_serialized_name(cls: type, name: str) -> bool:
    """Make a saved spec that names `cls` as `name` (another registration's serialized name) reach `cls`'s
    registered `from_dumpable_context`, unless `name` is taken; True when claimed. This is how a program
    saved under that other registration gets compat's clear refusal instead of torch's "not registered"."""
    table = _pytree().SERIALIZED_TYPE_TO_PYTHON_TYPE
    if name in table:
        return False
    table[name] = cls
    return True


def release_serialized_name(cls: type, name: str) -> None:
    """Undo `claim_serialized_name` (only if `name` still leads to `cls`)."""
    table = _pytree().SERIALIZED_TYPE_TO_PYTHON_TYPE
    if table.get(name) is cls:
        del table[name]
