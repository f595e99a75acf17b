"""Pytree round trips of every catalogued cache and layer class, and `torch.export.unflatten`.

A class that is not a pytree node flattens to itself as one leaf and "round-trips" trivially; these tests
require tensor leaves and a new, equal, still usable object, so that case fails as it should.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.fx._pytree as fx_pytree
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils import _pytree as pytree
from transformers import cache_utils

from compat.catalog import CACHE_CLASSES
from compat.tiny import OTHER_PROMPT_SEED, DecodeStep, dynamic_cache, static_cache
from kvmatrix.run.process.attribution import no_cache_probe
from suites.support.empty import (
    EMPTY_KINDS,
    check_empty_cache_round_trips,
    check_prefill_from_empty_exports,
    empty_of_kind,
)
from suites.support.exporting import (
    CACHE_KINDS,
    assert_matches_eager,
    check_export_without_cache,
    export_decode_step,
    new_tokens,
)
from suites.support.flattening import check_flattening_against_transformers
from suites.support.instances import InstancePool
from suites.support.models import clone, kv_tensors, prefilled
from suites.support.nodes import node_leaves
from suites.support.state import assert_same_state


@pytest.fixture(scope="module")
def pool(model) -> InstancePool:
    """Filled instances of every class this release can build."""
    return InstancePool(model)


def update_once(obj: Any) -> tuple[torch.Tensor, ...]:
    """Append one token's K/V through the object's own `update()` (a cache, or a single layer); an
    encoder-decoder cache is updated the way its models do, through its self-attention cache."""
    obj = getattr(obj, "self_attention_cache", obj)
    template = obj.keys if hasattr(obj, "keys") and isinstance(obj.keys, torch.Tensor) else kv_tensors(obj)[0]
    generator = torch.Generator().manual_seed(11)
    shape = (template.shape[0], template.shape[1], 1, template.shape[-1])
    k, v = (torch.randn(shape, generator=generator, dtype=template.dtype) for _ in range(2))
    kwargs = {"cache_position": torch.tensor([template.shape[-2] - 1])}
    if hasattr(obj, "layers") or hasattr(obj, "key_cache") or hasattr(obj, "self_attention_cache"):
        return tuple(obj.update(k, v, 0, kwargs))
    return tuple(obj.update(k, v, kwargs))


@pytest.mark.cache_only
@pytest.mark.parametrize("name", [entry.name for entry in CACHE_CLASSES])
def test_flatten_unflatten_gives_an_equal_usable_object(pool: InstancePool, name: str) -> None:
    cls = getattr(cache_utils, name, None)
    if cls is None:
        pytest.skip(f"n/a: transformers.cache_utils has no {name}")
    original = pool.instance_of(cls)
    leaves, spec = node_leaves(original)
    rebuilt = pytree.tree_unflatten([leaf if leaf is None else leaf.clone() for leaf in leaves], spec)
    assert rebuilt is not original
    assert_same_state(rebuilt, original, name)
    reference = clone(original)
    for got, want in zip(update_once(rebuilt), update_once(reference), strict=True):
        torch.testing.assert_close(got, want)
    assert_same_state(rebuilt, reference, f"{name} after update()")


@pytest.mark.cache_only
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_key_paths_name_the_cache_fields(model, kind: str) -> None:
    cache = prefilled(model, kind)
    node_leaves(cache)
    paths = [pytree.keystr(path) for path, _ in pytree.tree_flatten_with_path(cache)[0]]
    nameless = [
        p for p, (path, _) in zip(paths, pytree.tree_flatten_with_path(cache)[0], strict=True)
        if not any(isinstance(key, (pytree.GetAttrKey, pytree.MappingKey)) for key in path)
    ]
    assert not nameless, f"key paths without a field name: {nameless[:4]}"
    assert len(set(paths)) == len(paths), f"duplicate key paths: {paths}"


@pytest.mark.cache_only
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_fx_flatten_spec_agrees_with_pytree(model, kind: str) -> None:
    cache = prefilled(model, kind)
    leaves, spec = node_leaves(cache)
    fx_leaves = fx_pytree.tree_flatten_spec(cache, spec)
    assert [id(leaf) for leaf in fx_leaves] == [id(leaf) for leaf in leaves]


@pytest.mark.cache_only
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_treespec_survives_dumps_and_loads(model, kind: str) -> None:
    cache = prefilled(model, kind)
    leaves, spec = node_leaves(cache)
    loaded = pytree.treespec_loads(pytree.treespec_dumps(spec))
    assert loaded == spec
    assert_same_state(pytree.tree_unflatten(leaves, loaded), cache, kind)


def unflatten_without_cache(model) -> None:
    check_export_without_cache(model, strict=False, unflatten=True)


@no_cache_probe(unflatten_without_cache)
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_unflattened_exported_program_matches_eager(model, kind: str) -> None:
    cache = prefilled(model, kind)
    other = prefilled(model, kind, seed=OTHER_PROMPT_SEED)
    input_ids, cache_position = new_tokens(1, seed=2)
    program = export_decode_step(model, clone(cache), input_ids, cache_position, strict=False, dynamic=False)
    assert_matches_eager(torch.export.unflatten(program), DecodeStep(model), [(input_ids, cache, cache_position), (input_ids, other, cache_position)])


@pytest.mark.cache_only
@pytest.mark.parametrize("kind", EMPTY_KINDS)
def test_empty_cache_round_trips_and_stays_usable(model, kind: str) -> None:
    """Before any update (no layer yet, or lazy layers holding no tensors, `static_layer_init` lazy): the
    cache still flattens as a node, comes back equal and then prefills like the original."""
    check_empty_cache_round_trips(model, empty_of_kind(kind, model.config))


def export_prefill_without_cache(model) -> None:
    check_export_without_cache(model, strict=False)


@no_cache_probe(export_prefill_without_cache)
@pytest.mark.parametrize("kind", ["DynamicCache()", "DynamicCache(config)"])
def test_prefill_exported_from_an_empty_cache_matches_eager(model, kind: str) -> None:
    """Non-strict; the StaticCache case is test_export's test_fresh_static_cache_prefill_exports_then_decode_steps_follow_it."""
    check_prefill_from_empty_exports(model, empty_of_kind(kind, model.config))


@pytest.mark.cache_only
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_leaf_order_and_key_paths_against_transformers_own_flattening(model, kind: str, record_property) -> None:
    record_property("leaf_order_vs_transformers", check_flattening_against_transformers(prefilled(model, kind)))


def random_cache(layers: int, heads: int, head_dim: int, length: int, dtype: torch.dtype, kind: str) -> Any:
    """A cache of `kind` built from a config of the given sizes and filled with `length` random tokens
    through `update()`; "sliding-*" kinds use a Mistral config whose window is shorter than `length`+1."""
    sizes = dict(hidden_size=heads * head_dim, num_attention_heads=heads, num_key_value_heads=heads,
                 num_hidden_layers=layers, intermediate_size=8, vocab_size=16, max_position_embeddings=64)
    if kind.startswith("sliding"):
        config = transformers.MistralConfig(**sizes, sliding_window=max(1, length - 1))
    else:
        config = transformers.LlamaConfig(**sizes)
    cache = dynamic_cache(config) if kind.endswith("dynamic") else static_cache(config, max_cache_len=length + 4, dtype=dtype)
    generator = torch.Generator().manual_seed(layers * 100 + length)
    for layer_idx in range(layers):
        k, v = (torch.randn(1, heads, length, head_dim, generator=generator).to(dtype) for _ in range(2))
        cache.update(k, v, layer_idx, {"cache_position": torch.arange(length)})
    return cache


@pytest.mark.cache_only
@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    layers=st.integers(1, 3),
    heads=st.integers(1, 3),
    head_dim=st.sampled_from([4, 8]),
    length=st.integers(1, 6),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]),
    kind=st.sampled_from(["dynamic", "static", "sliding-dynamic", "sliding-static"]),
)
def test_random_caches_round_trip_equal_and_stay_usable(layers, heads, head_dim, length, dtype, kind) -> None:
    cache = random_cache(layers, heads, head_dim, length, dtype, kind)
    leaves, spec = node_leaves(cache)
    rebuilt = pytree.tree_unflatten([leaf if leaf is None else leaf.clone() for leaf in leaves], spec)
    assert_same_state(rebuilt, cache, kind)
    reference = clone(cache)
    for got, want in zip(update_once(rebuilt), update_once(reference), strict=True):
        torch.testing.assert_close(got, want)
    assert_same_state(rebuilt, reference, f"{kind} after update()")
