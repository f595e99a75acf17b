"""Compare compat's leaf order and key paths for a cache with transformers' own flattening of it.

transformers' own flattening is found as data, not by version: each entry of TRANSFORMERS_FLATTENINGS names
a module and a function that, where the installed release has them, turn a cache into its children.
transformers#41901 asked for layer order (k0, v0, k1, v1, ...) where transformers' own flattening of a
DynamicCache gives all keys, then all values; the comparison states what differs for the installed pair.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

SHOWN_PATHS = 4  # leading key paths quoted per side in a difference


@dataclass(frozen=True)
class Flattening:
    """One transformers function that flattens a cache class: `shape` says what it returns
    (`keyed`: (key/child pairs, context), as a `flatten_with_keys_fn`; `dict`: a dict of children)."""

    cls: str
    module: str
    function: str
    shape: str


TRANSFORMERS_FLATTENINGS: tuple[Flattening, ...] = (
    # 4.51-4.55: registered at import of transformers.cache_utils (list-based: key_cache, value_cache).
    Flattening("DynamicCache", "transformers.cache_utils", "_flatten_with_keys_dynamic_cache", "keyed"),
    # 4.54-4.55: registered at import too, layer-based: the dict it flattens.
    Flattening("DynamicCache", "transformers.cache_utils", "_get_cache_dict", "dict"),
    # 4.56+: registered by register_dynamic_cache_export_support(); the dict it flattens.
    Flattening("DynamicCache", "transformers.integrations.executorch", "_get_cache_dict", "dict"),
)


def _transformers_flattening(cls_name: str) -> tuple[Flattening, Callable[..., Any]] | None:
    for entry in TRANSFORMERS_FLATTENINGS:
        if entry.cls != cls_name:
            continue
        try:
            module = importlib.import_module(entry.module)
        except ImportError:
            continue
        function = getattr(module, entry.function, None)
        if function is not None:
            return entry, function
    return None


def _key_text(key: Any) -> str:
    return f".{key.name}" if hasattr(key, "name") else f"[{key.key!r}]" if hasattr(key, "key") else f"[{key.idx}]"


def _paths(obj: Any, flatten: Callable[[Any], list[tuple[Any, Any]]], prefix: str = "") -> list[tuple[str, Any]]:
    """(key path, tensor) for every tensor under `obj`; `flatten` gives (key, child) pairs of a cache object
    or None for anything else, lists, tuples and dicts are walked here."""
    from .pytree_api import MappingKey, SequenceKey

    if isinstance(obj, torch.Tensor):
        return [(prefix, obj)]
    if isinstance(obj, dict):
        pairs = [(MappingKey(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        pairs = [(SequenceKey(i), v) for i, v in enumerate(obj)]
    else:
        pairs = flatten(obj) or []
    return [item for key, child in pairs for item in _paths(child, flatten, prefix + _key_text(key))]


def _compat_pairs(node_types: tuple[type, ...]) -> Callable[[Any], list[tuple[Any, Any]] | None]:
    from .node import keyed_split

    def pairs(obj: Any) -> list[tuple[Any, Any]] | None:
        return keyed_split(obj, node_types)[0] if isinstance(obj, node_types) else None

    return pairs


def sample_cache(cls: type, layers: int = 2) -> Any:
    """A small filled cache of `cls` (built through its public `update`): `layers` layers of (1, 1, 2, 2)."""
    cache = cls()
    for index in range(layers):
        keys = torch.full((1, 1, 2, 2), float(2 * index))
        cache.update(keys, keys + 1, index)
    return cache


def compat_paths(cache: Any, node_types: tuple[type, ...]) -> list[tuple[str, Any]]:
    """(key path, tensor) for every tensor of compat's flattening of `cache`, in leaf order; `node_types`:
    the classes compat flattens as nodes (nested caches and layers)."""
    return _paths(cache, _compat_pairs(node_types))


def transformers_paths(cache: Any) -> tuple[str, list[tuple[str, Any]]] | None:
    """transformers' own flattening of `cache` where the installed release has one: its name
    (`module.function`) and (key path, tensor) for every tensor, in leaf order; None where it has none."""
    found = _transformers_flattening(type(cache).__name__)
    if found is None:
        return None
    entry, function = found
    cls = type(cache)
    theirs = _paths(function(cache) if entry.shape == "dict" else cache,
                    (lambda obj: function(obj)[0] if isinstance(obj, cls) else None))
    return f"{entry.module}.{entry.function}", theirs


def difference(ours: list[tuple[str, Any]], theirs: list[tuple[str, Any]], theirs_name: str) -> str:
    """`same`, or `differs (...)` naming what differs (leaf order, key paths) with the leading paths of each."""
    same_order = [id(t) for _, t in ours] == [id(t) for _, t in theirs]
    same_paths = [p for p, _ in ours] == [p for p, _ in theirs]
    if same_order and same_paths:
        return "same"
    order = "same leaf order" if same_order else "leaf order differs"

    def shown(paths: list[tuple[str, Any]]) -> str:
        return ", ".join(p for p, _ in paths[:SHOWN_PATHS]) + (", ..." if len(paths) > SHOWN_PATHS else "")

    return (f"differs ({order}{', key paths differ' if not same_paths else ''}): compat {shown(ours)}; "
            f"transformers ({theirs_name}) {shown(theirs)}")


def leaf_order_vs_transformers(cls: type, node_types: tuple[type, ...]) -> str:
    """`same`, `differs: ...` (leaf order and key paths of compat and of transformers' own flattening), or
    `no transformers flattening`, for a cache of `cls`; `not compared: ...` when no sample can be built."""
    if _transformers_flattening(cls.__name__) is None:
        return "no transformers flattening"
    try:
        cache = sample_cache(cls)
        found = transformers_paths(cache)
        ours = compat_paths(cache, node_types)
    except Exception as exc:  # a release whose constructor or update differs: say so, do not guess
        return f"not compared: {type(exc).__name__}: {exc}"[:300]
    if found is None:  # checked above; kept for the type checker
        return "no transformers flattening"
    return difference(ours, found[1], found[0])
