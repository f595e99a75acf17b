"""The one check that a cache (or layer) really is a pytree node, shared by every suite that flattens one.

A class that is not registered flattens to itself as a single leaf and would "round-trip" trivially."""

from __future__ import annotations

from typing import Any

from torch.utils import _pytree as pytree


def node_leaves(obj: Any, unallocated_ok: bool = False) -> tuple[list[Any], Any]:
    """`tree_flatten(obj)`, insisting on a real pytree node: no leaf is `obj` itself and every leaf is a
    tensor or an unallocated slot (None is a leaf on some torches, e.g. 2.8, and a node on others), with at
    least one tensor unless `unallocated_ok` (a cache straight from a lazy constructor holds none yet)."""
    leaves, spec = pytree.tree_flatten(obj)
    kinds = sorted({type(leaf).__name__ for leaf in leaves})
    real = not any(leaf is obj for leaf in leaves) and set(kinds) <= {"Tensor", "NoneType"}
    assert real and (unallocated_ok or "Tensor" in kinds), (
        f"{type(obj).__name__} is not a pytree node: leaves are {kinds}"
    )
    return leaves, spec
