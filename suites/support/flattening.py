"""The recorded comparison of compat's flattening (leaf order and key paths) with transformers' own, on a
model-filled cache of the running cell (transformers#41901), shared by the `roundtrip` suite and by
tests/compat/test_silent_wrong_checks.py."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree
from transformers import cache_utils

import compat
from compat.catalog import CACHE_CLASSES
from compat.comparison import compat_paths, difference, transformers_paths
from suites.support.models import kv_tensors


def _covers_each_tensor_once(paths: list[tuple[str, Any]], cache: Any, side: str) -> None:
    leaves = [id(leaf) for _, leaf in paths]
    counts = {index: leaves.count(id(tensor)) for index, tensor in enumerate(kv_tensors(cache))}
    wrong = {index: count for index, count in counts.items() if count != 1}
    assert not wrong, f"{side}'s flattening holds key/value tensors (by index k0, v0, k1, ...) other than once: {wrong}"


def check_flattening_against_transformers(cache: Any) -> str:
    """Compare compat's flattening of `cache` with transformers' own (`n/a` where transformers has none for
    its class): each holds every key and value tensor once; the flattening torch's pytree applies in this
    process (`tree_flatten_with_path`) is one of the two; and the difference is the one compat's
    registration report states. Returns that difference."""
    found = transformers_paths(cache)
    if found is None:
        pytest.skip(f"n/a: transformers has no flattening of its own for {type(cache).__name__} here")
    name, theirs = found
    node_types = tuple(getattr(cache_utils, e.name) for e in CACHE_CLASSES if hasattr(cache_utils, e.name))
    ours = compat_paths(cache, node_types)
    _covers_each_tensor_once(ours, cache, "compat")
    _covers_each_tensor_once(theirs, cache, name)
    applied = [(pytree.keystr(path), leaf) for path, leaf in pytree.tree_flatten_with_path(cache)[0]
               if isinstance(leaf, torch.Tensor)]
    assert difference(applied, ours, "") == "same" or difference(applied, theirs, "") == "same", (
        f"the registered flattening of {type(cache).__name__} ({[p for p, _ in applied][:4]}) is neither "
        f"compat's ({[p for p, _ in ours][:4]}) nor transformers' ({[p for p, _ in theirs][:4]})"
    )
    found_difference = difference(ours, theirs, name)
    stated = {r.name: r.leaf_order_vs_transformers for r in compat.registration_report()}[type(cache).__name__]
    assert found_difference == stated, f"compat's report states {stated!r}, a filled cache gives {found_difference!r}"
    return found_difference
