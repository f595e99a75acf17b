"""Sliding-window (Mistral) and hybrid (Gemma 2: alternating sliding/full layers) caches, with a window
shorter than the decoded length, through export, round trip and compile (with KVCC_TRACE_BACKEND: dynamo and
AOTAutograd decide this verdict; the code-generation test is test_compile's StaticCache loop).

The exported decode step is run several times in a row, fed the cache it returned, so a cache that loses
its sliding layer type on the way through the pytree (transformers#47900: it then grows without bound)
fails here, not in production.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree
from transformers import cache_utils

from compat.tiny import (
    EXAMPLE_PROMPT_SEED,
    OTHER_PROMPT_SEED,
    PROMPT_LEN,
    DecodeStep,
    dynamic_cache,
    prompt_ids,
    static_cache,
)
from kvmatrix.run.process.attribution import eager, no_cache_probe
from kvmatrix.settings import setting
from suites.support.exporting import (
    BAKED_IN,
    assert_same_spec_as_traced,
    check_compile_without_cache,
    export_without_cache,
)
from suites.support.instances import SLIDING_WINDOW, _model
from suites.support.models import clone, greedy_loop, kv_tensors
from suites.support.nodes import node_leaves

BACKEND = setting("KVCC_TRACE_BACKEND")
MODELS = {
    "mistral": ("MistralConfig", "MistralForCausalLM", {}),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {"head_dim": 8}),
}
# The class a release dedicates to each model's static sliding cache, where it has one.
DEDICATED = {"mistral": "SlidingWindowCache", "gemma2": "HybridCache"}
STEPS = 4


@pytest.fixture(scope="module", params=sorted(MODELS))
def model_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(model_name: str) -> torch.nn.Module:
    config_name, model_class, extra = MODELS[model_name]
    return _model(config_name, model_class, sliding_window=SLIDING_WINDOW, **extra)


def layer_types(cache: Any) -> list[str]:
    return [type(layer).__name__ for layer in getattr(cache, "layers", [])]


def static_sliding(model: torch.nn.Module, model_name: str, cache_class: str, seed: int = EXAMPLE_PROMPT_SEED) -> Any:
    """A static cache of `cache_class` ("StaticCache(config)" or the dedicated class) prefilled with the
    prompt drawn with `seed`."""
    if cache_class == "dedicated":
        cls = getattr(cache_utils, DEDICATED[model_name], None)
        if cls is None:
            pytest.skip(f"n/a: transformers.cache_utils has no {DEDICATED[model_name]}")
        cache = static_cache(model.config, cls=cls)
    else:
        cache = static_cache(model.config)
    with torch.no_grad(), eager(f"{model_name} prefill of {cache_class}"):
        DecodeStep(model)(prompt_ids(seed=seed), cache, torch.arange(PROMPT_LEN))
    return cache


def decode(step: Any, cache: Any, steps: int = STEPS, traced_spec: Any = None) -> tuple[list[torch.Tensor], Any]:
    """Greedy steps after the prompt, each fed the cache the previous step returned; with `traced_spec`
    (an exported program's cache spec), each step first checks the cache still has it."""
    def check_spec(current: Any) -> None:
        assert_same_spec_as_traced(traced_spec, current)

    return greedy_loop(step, cache, steps, PROMPT_LEN, prompt_ids(1, seed=5),
                       check_spec if traced_spec is not None else None)


def compile_without_cache(model) -> None:
    check_compile_without_cache(model, BACKEND)


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("cache_class", ["StaticCache(config)", "dedicated"])
def test_exported_sliding_step_decodes_past_the_window_like_eager(model, model_name, cache_class, mode) -> None:
    """Decoded from the export example's cache and from one prefilled with another prompt."""
    caches = [static_sliding(model, model_name, cache_class, seed) for seed in (EXAMPLE_PROMPT_SEED, OTHER_PROMPT_SEED)]
    with torch.no_grad():
        program = torch.export.export(
            DecodeStep(model), (prompt_ids(1, seed=5), clone(caches[0]), torch.tensor([PROMPT_LEN])),
            strict=mode == "strict",
        )
    results = []
    for cache in caches:
        with eager("decode (the reference)"):
            eager_logits, eager_cache = decode(DecodeStep(model), clone(cache))
        logits, out_cache = decode(program.module(), clone(cache), traced_spec=pytree.tree_structure(cache))
        results.append((logits, out_cache, eager_logits, eager_cache))
    (example_logits, _, example_eager, _), (other_logits, _, other_eager, _) = results
    assert not torch.allclose(other_eager[0], example_eager[0]), "the other cache does not change eager's answer"
    assert not torch.allclose(other_logits[0], example_logits[0]), BAKED_IN
    for logits, out_cache, eager_logits, eager_cache in results:
        for step, (got, want) in enumerate(zip(logits, eager_logits, strict=True)):
            torch.testing.assert_close(got, want, msg=lambda m, s=step: f"step {s}: {m}")
        assert type(out_cache) is type(eager_cache) and layer_types(out_cache) == layer_types(eager_cache)
        for got, want in zip(kv_tensors(out_cache), kv_tensors(eager_cache), strict=True):
            assert got.shape == want.shape, "the cache changed shape: sliding layers lost their window"
            torch.testing.assert_close(got, want)


@pytest.mark.cache_only
def test_dynamic_sliding_cache_round_trip_keeps_the_window(model) -> None:
    cache = dynamic_cache(model.config)
    with torch.no_grad():
        DecodeStep(model)(prompt_ids(), cache, torch.arange(PROMPT_LEN))
    if not any("Sliding" in name for name in layer_types(cache)):
        pytest.skip("n/a: this release's DynamicCache has no sliding-window layers")
    leaves, spec = node_leaves(cache)
    rebuilt = pytree.tree_unflatten([leaf.clone() for leaf in leaves], spec)
    assert layer_types(rebuilt) == layer_types(cache)
    assert [getattr(layer, "sliding_window", None) for layer in rebuilt.layers] == [
        getattr(layer, "sliding_window", None) for layer in cache.layers
    ]
    with eager("decode (the reference)"):
        _, reference = decode(DecodeStep(model), clone(cache))
    _, continued = decode(DecodeStep(model), rebuilt)
    for got, want in zip(kv_tensors(continued), kv_tensors(reference), strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)


@no_cache_probe(compile_without_cache)
def test_sliding_decode_loop_compiles_and_matches_eager(model, model_name, record_property) -> None:
    cache = static_sliding(model, model_name, "StaticCache(config)")
    with eager("decode (the reference)"):
        eager_logits, _ = decode(DecodeStep(model), clone(cache), steps=8)
    torch._dynamo.reset()
    logits, _ = decode(torch.compile(DecodeStep(model), backend=BACKEND), clone(cache), steps=8)
    record_property("backend", BACKEND)
    torch.testing.assert_close(torch.cat(logits, 1), torch.cat(eager_logits, 1), rtol=1e-4, atol=1e-4)
