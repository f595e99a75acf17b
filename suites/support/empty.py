"""Checks of caches with no layer filled yet (transformers#37880: empty caches flattened to zero tensors),
shared by the `roundtrip` suite and by tests/compat/test_silent_wrong_checks.py, which runs them against a
registration that refuses empty caches."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree
from transformers import cache_utils

from compat.tiny import OTHER_PROMPT_SEED, PROMPT_LEN, DecodeStep, prompt_ids, static_cache
from kvmatrix.run.process.attribution import eager
from suites.support.exporting import assert_matches_eager
from suites.support.models import clone
from suites.support.nodes import node_leaves
from suites.support.state import assert_same_state

EMPTY_KINDS = ("DynamicCache()", "DynamicCache(config)", "StaticCache(config)")


def empty_of_kind(kind: str, config: Any) -> Any:
    """A cache of `kind` (EMPTY_KINDS) before its first update; `n/a` where this release's DynamicCache
    takes no config."""
    if kind == "StaticCache(config)":
        return static_cache(config)
    if kind == "DynamicCache()":
        return cache_utils.DynamicCache()
    if "config" not in inspect.signature(cache_utils.DynamicCache.__init__).parameters:
        pytest.skip("n/a: this release's DynamicCache takes no config")
    return cache_utils.DynamicCache(config=config)


def check_empty_cache_round_trips(model: torch.nn.Module, cache: Any) -> None:
    """An empty `cache` flattens as a node (its leaves are tensors or unallocated slots, none the cache
    itself), its spec survives dumps / loads, it unflattens to an equal cache, and the rebuilt cache then
    prefills like the original."""
    leaves, spec = node_leaves(cache, unallocated_ok=True)
    assert pytree.treespec_loads(pytree.treespec_dumps(spec)) == spec
    rebuilt = pytree.tree_unflatten([leaf if leaf is None else leaf.clone() for leaf in leaves], spec)
    assert rebuilt is not cache
    assert_same_state(rebuilt, cache, f"empty {type(cache).__name__}")
    reference = clone(cache)
    with torch.no_grad():
        with eager("prefill of the original cache"):
            want, _ = DecodeStep(model)(prompt_ids(), reference, torch.arange(PROMPT_LEN))
        got, _ = DecodeStep(model)(prompt_ids(), rebuilt, torch.arange(PROMPT_LEN))
    torch.testing.assert_close(got, want)
    assert_same_state(rebuilt, reference, f"{type(cache).__name__} after prefill")


def check_prefill_from_empty_exports(model: torch.nn.Module, cache: Any, strict: bool = False) -> None:
    """The prefill step exported with the empty `cache` as input, run from a copy of it on the example
    prompt and on another one, matches eager, returned cache included."""
    positions = torch.arange(PROMPT_LEN)
    with torch.no_grad():
        program = torch.export.export(DecodeStep(model), (prompt_ids(), clone(cache), positions), strict=strict)
    assert_matches_eager(program.module(), DecodeStep(model),
                         [(prompt_ids(), cache, positions), (prompt_ids(seed=OTHER_PROMPT_SEED), cache, positions)])
