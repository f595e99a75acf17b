"""The suites' silent-wrong checks (suites/support/sliding.py, empty.py, flattening.py) fail on a
deliberately broken pytree node put in place of compat's, and pass with compat's own registration.

The broken nodes are the bugs users reported: one that rebuilds a sliding cache with plain layers, its window
gone (transformers#47900: the exported cache then grows without bound while the logits still match), one
that refuses a cache with no layer filled yet (transformers#37880), and one that flattens a layer's children
in another order than the one compat states. Each replaces compat's node for one class only for the test,
built from compat's own node functions, and compat's is put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.fx._pytree as fx_pytree
from torch.utils import _pytree as pytree
from transformers import cache_utils

import compat
from compat.pytree_api import register_node, why_nodes_cannot_be_removed
from compat.tiny import tiny_llama
from kvmatrix.settings import setting
from suites.support.empty import (
    EMPTY_KINDS,
    check_empty_cache_round_trips,
    check_prefill_from_empty_exports,
    empty_of_kind,
)
from suites.support.flattening import check_flattening_against_transformers
from suites.support.models import prefilled
from suites.support.sliding import (
    STEPS,
    WINDOW_ATTRIBUTES,
    WINDOW_LOST,
    check_compiled_decode_keeps_window,
    check_exported_decode_keeps_window,
    check_round_trip_keeps_window,
    check_saved_program_keeps_window,
    slides_or_skip,
    sliding_cache,
    sliding_layers,
    sliding_model,
)

WINDOW_CACHES = ["DynamicCache(config)", "StaticCache(config)", "dedicated"]
REFUSED = "refuses a cache with no token"
OUT_OF_WINDOW = "hold more than the window"
NodeParts = tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], bool]
"""A broken node: flatten, unflatten, flatten with keys, and whether its context is compat's (saved with
compat's dumpable-context hooks)."""


@contextmanager
def in_place_of_compat(cls: type, broken: Callable[[Any], NodeParts]) -> Iterator[None]:
    """For the block, `cls` is registered with `broken(compat's NodeDef)` (flatten, unflatten, flatten with
    keys, and whether its context is compat's) under compat's serialized name, with an fx flatten spec of its
    own; compat's node and fx spec are put back afterwards. `n/a` where this torch cannot remove a node or
    compat does not hold `cls` here (transformers registers it at import)."""
    reason = why_nodes_cannot_be_removed()
    if reason is not None:
        pytest.skip(f"n/a: {reason}")
    compat.register()
    report = {r.name: r for r in compat.registration_report()}[cls.__name__]
    if report.status != "registered":
        pytest.skip(f"n/a: compat does not hold {cls.__name__} here ({report.status}, owner {report.owner})")
    node, serialized = pytree.SUPPORTED_NODES[cls], pytree.SUPPORTED_SERIALIZED_TYPES[cls]
    fx_spec = fx_pytree.SUPPORTED_NODES[cls]

    def install(flatten: Callable[..., Any], unflatten: Callable[..., Any], with_keys: Callable[..., Any],
                compat_context: bool, fx_flatten_spec: Callable[..., Any]) -> None:
        hooks = (dict(to_dumpable_context=serialized.to_dumpable_context,
                      from_dumpable_context=serialized.from_dumpable_context) if compat_context else {})
        pytree._deregister_pytree_node(cls)
        register_node(cls, flatten, unflatten, with_keys, fx_flatten_spec,
                      serialized_type_name=serialized.serialized_type_name, **hooks)
        fx_pytree.SUPPORTED_NODES[cls] = fx_flatten_spec

    flatten, unflatten, with_keys, compat_context = broken(node)
    install(flatten, unflatten, with_keys, compat_context, lambda obj, spec: flatten(obj)[0])
    try:
        yield
    finally:
        install(node.flatten_fn, node.unflatten_fn, node.flatten_with_keys_fn, True, fx_spec)
    assert {r.name: r for r in compat.registration_report()}[cls.__name__].status == "registered"


def forgets_layer_types(node: Any) -> NodeParts:
    """What transformers' own DynamicCache node does in 4.56-4.57 (transformers#47900), in place of compat's:
    flatten to the key and value tensors only, rebuild a `DynamicCache()` through `update`, so every layer
    comes back a plain DynamicLayer. The tree spec holds no layer type, so a program keeps accepting the
    caches it returns: only the window checks see the loss."""
    def cache_dict(cache: Any) -> dict[str, list[torch.Tensor]]:
        return {"key_cache": [layer.keys for layer in cache.layers], "value_cache": [layer.values for layer in cache.layers]}

    def unflatten(values: Any, context: Any) -> Any:
        tensors = pytree._dict_unflatten(values, context)
        cache = cache_utils.DynamicCache()
        for index, (keys, values_) in enumerate(zip(tensors["key_cache"], tensors["value_cache"], strict=True)):
            cache.update(keys, values_, index)
        return cache

    return (lambda cache: pytree._dict_flatten(cache_dict(cache)), unflatten,
            lambda cache: pytree._dict_flatten_with_keys(cache_dict(cache)), False)


def forget_window(cache: Any) -> Any:
    """`cache` as transformers#47900 rebuilt it: sliding layers become the plain layer class they derive
    from, without their window; a list-based cache of a dedicated sliding class becomes a plain StaticCache."""
    layers = getattr(cache, "layers", None)
    if not layers:
        cache.__class__ = cache_utils.StaticCache
        for name in WINDOW_ATTRIBUTES[:-1]:
            vars(cache).pop(name, None)
        return cache
    for index, layer in enumerate(layers):
        plain = next(c for c in type(layer).__mro__ if "Sliding" not in c.__name__)
        rebuilt = plain.__new__(plain)
        vars(rebuilt).update({k: v for k, v in vars(layer).items() if k not in ("sliding_window", "cumulative_length")})
        layers[index] = rebuilt
    if "is_sliding" in vars(cache):
        cache.is_sliding = [False] * len(layers)
    return cache


def drops_the_window(node: Any) -> NodeParts:
    """compat's node, except that unflatten forgets the window (`forget_window`)."""
    return (node.flatten_fn, lambda values, context: forget_window(node.unflatten_fn(values, context)),
            node.flatten_with_keys_fn, True)


def refuses_empty(node: Any) -> NodeParts:
    """compat's node, except that flattening a cache holding no token raises."""
    def guarded(flatten: Callable[..., Any]) -> Callable[..., Any]:
        def flatten_unless_empty(obj: Any) -> Any:
            if obj.get_seq_length() == 0:
                raise ValueError(f"this node {REFUSED}")
            return flatten(obj)
        return flatten_unless_empty

    return guarded(node.flatten_fn), node.unflatten_fn, guarded(node.flatten_with_keys_fn), True


def reversed_children(node: Any) -> NodeParts:
    """compat's node with its children in reverse order (values before keys): a consistent round trip, but
    not the leaf order compat states."""
    def flatten(obj: Any) -> Any:
        children, context = node.flatten_fn(obj)
        return children[::-1], context

    def flatten_with_keys(obj: Any) -> Any:
        pairs, context = node.flatten_with_keys_fn(obj)
        return pairs[::-1], context

    return flatten, lambda values, context: node.unflatten_fn(list(values)[::-1], context), flatten_with_keys, True


@pytest.fixture(scope="module")
def mistral() -> torch.nn.Module:
    return sliding_model("mistral")


@pytest.fixture(scope="module")
def llama() -> torch.nn.Module:
    return tiny_llama()


def sliding(mistral: torch.nn.Module, cache_class: str) -> Any:
    cache = sliding_cache(mistral, "mistral", cache_class)
    slides_or_skip(cache, cache_class)
    return cache


def window_breaker(cache: Any) -> tuple[Callable[[Any], NodeParts], tuple[type[Exception], ...]]:
    """The broken node for `cache` and what a check run through it may raise. A DynamicCache gets the
    silent one (`forgets_layer_types`): only the window assertions can catch it. A static cache gets
    `drops_the_window`: its layer class is in the tree spec, so torch.export (which rebuilds its example
    inputs through unflatten) derives a spec the caller's cache no longer has and the program refuses it
    (ValueError) where the window assertion has not caught the loss first."""
    if isinstance(cache, cache_utils.DynamicCache):
        return forgets_layer_types, (AssertionError,)
    return drops_the_window, (AssertionError, ValueError)


@pytest.mark.parametrize("cache_class", WINDOW_CACHES)
def test_round_trip_window_check_fails_on_a_node_that_drops_the_window(mistral, cache_class: str) -> None:
    cache = sliding(mistral, cache_class)
    broken, _ = window_breaker(cache)
    with in_place_of_compat(type(cache), broken), pytest.raises(AssertionError, match=WINDOW_LOST):
        check_round_trip_keeps_window(mistral, cache)
    check_round_trip_keeps_window(mistral, cache)


@pytest.mark.parametrize("cache_class", WINDOW_CACHES)
def test_saved_program_window_check_fails_on_a_node_that_drops_the_window(mistral, cache_class: str) -> None:
    cache = sliding(mistral, cache_class)
    broken, raised = window_breaker(cache)
    with in_place_of_compat(type(cache), broken), pytest.raises(raised) as failure:
        check_saved_program_keeps_window(mistral, cache)
    assert failure.type is not AssertionError or WINDOW_LOST in str(failure.value), failure.value
    check_saved_program_keeps_window(mistral, cache)


@pytest.mark.parametrize("cache_class", WINDOW_CACHES)
def test_exported_decode_window_check_fails_on_a_node_that_drops_the_window(mistral, cache_class: str) -> None:
    """Under compat the exported decode may still fail on something else (in layer-based releases compat
    keeps the running `cumulative_length` in the tree spec, so a program refuses its own returned cache): what
    is asserted there is that the window is not what fails."""
    cache = sliding(mistral, cache_class)
    broken, raised = window_breaker(cache)
    with in_place_of_compat(type(cache), broken), pytest.raises(raised) as failure:
        check_exported_decode_keeps_window(mistral, [cache], strict=False)
    assert failure.type is not AssertionError or WINDOW_LOST in str(failure.value), failure.value
    try:
        check_exported_decode_keeps_window(mistral, [cache], strict=False)
    except AssertionError as exc:
        assert WINDOW_LOST not in str(exc) and OUT_OF_WINDOW not in str(exc), exc


def test_compiled_decode_window_check_fails_on_a_cache_that_node_rebuilt(mistral) -> None:
    """torch.compile traces the cache object itself, not its pytree node: what a broken node does to a
    compiled decode is hand it a cache that lost its window (after a round trip, an unflatten or a load)."""
    cache = sliding(mistral, "DynamicCache(config)")
    layers = sliding_layers(cache)
    with in_place_of_compat(type(cache), forgets_layer_types):
        rebuilt = pytree.tree_unflatten(*pytree.tree_flatten(cache))
    backend = setting("KVCC_TRACE_BACKEND")
    with pytest.raises(AssertionError, match=OUT_OF_WINDOW):
        check_compiled_decode_keeps_window(mistral, rebuilt, backend, layers, STEPS)
    check_compiled_decode_keeps_window(mistral, pytree.tree_unflatten(*pytree.tree_flatten(cache)), backend, layers, STEPS)


@pytest.mark.parametrize("kind", EMPTY_KINDS)
def test_empty_round_trip_check_fails_on_a_node_that_refuses_empty_caches(llama, kind: str) -> None:
    cache = empty_of_kind(kind, llama.config)
    with in_place_of_compat(type(cache), refuses_empty), pytest.raises(ValueError, match=REFUSED):
        check_empty_cache_round_trips(llama, cache)
    check_empty_cache_round_trips(llama, cache)


@pytest.mark.parametrize("kind", ["DynamicCache()", "DynamicCache(config)"])
def test_empty_prefill_export_check_fails_on_a_node_that_refuses_empty_caches(llama, kind: str) -> None:
    cache = empty_of_kind(kind, llama.config)
    with in_place_of_compat(type(cache), refuses_empty), pytest.raises(ValueError, match=REFUSED):
        check_prefill_from_empty_exports(llama, cache)
    check_prefill_from_empty_exports(llama, cache)


def test_leaf_order_check_fails_on_a_node_whose_leaf_order_is_not_compats(llama) -> None:
    cache = prefilled(llama, "DynamicCache")
    layers = getattr(cache, "layers", None)
    if not layers:
        pytest.skip("n/a: a list-based DynamicCache has no layer node of compat's to break here")
    with in_place_of_compat(type(layers[0]), reversed_children), pytest.raises(AssertionError, match="neither"):
        check_flattening_against_transformers(cache)
    check_flattening_against_transformers(cache)
