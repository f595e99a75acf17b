"""Sliding-window (Mistral) and hybrid (Gemma 2: alternating sliding/full layers) caches, with a window
shorter than the decoded length, through export, save / load, round trip and compile (with
KVCC_TRACE_BACKEND: dynamo and AOTAutograd decide this verdict; the code-generation test is test_compile's
StaticCache loop).

Every decode here is run several times in a row, each step fed the cache the previous one returned, and
every cache must keep eager's layer types and window attributes and hold at most the window on its sliding
layers, so a cache that loses its sliding layer type on the way through the pytree (transformers#47900: it
then grows without bound while the logits still match) fails here, not in production. The checks are
suites.support.sliding's, also run against deliberately broken registrations (tests/compat).
"""

from __future__ import annotations

import pytest
import torch

from compat.tiny import EXAMPLE_PROMPT_SEED, OTHER_PROMPT_SEED
from kvmatrix.run.process.attribution import no_cache_probe
from kvmatrix.settings import setting
from suites.support.exporting import (
    check_compile_without_cache,
    check_export_without_cache,
    export_without_cache,
)
from suites.support.sliding import (
    MODELS,
    check_compiled_decode_keeps_window,
    check_exported_decode_keeps_window,
    check_round_trip_keeps_window,
    check_saved_program_keeps_window,
    slides_or_skip,
    sliding_cache,
    sliding_layers,
    sliding_model,
)

BACKEND = setting("KVCC_TRACE_BACKEND")


@pytest.fixture(scope="module", params=sorted(MODELS))
def model_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(model_name: str) -> torch.nn.Module:
    return sliding_model(model_name)


def compile_without_cache(model) -> None:
    check_compile_without_cache(model, BACKEND)


def save_and_load_without_cache(model) -> None:
    check_export_without_cache(model, strict=False, save_and_load=True)


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("cache_class", ["StaticCache(config)", "dedicated"])
def test_exported_sliding_step_decodes_past_the_window_like_eager(model, model_name, cache_class, mode) -> None:
    """Decoded from the export example's cache and from one prefilled with another prompt."""
    caches = [sliding_cache(model, model_name, cache_class, seed) for seed in (EXAMPLE_PROMPT_SEED, OTHER_PROMPT_SEED)]
    check_exported_decode_keeps_window(model, caches, strict=mode == "strict")


@pytest.mark.cache_only
@pytest.mark.parametrize("cache_class", ["DynamicCache(config)", "StaticCache(config)", "dedicated"])
def test_sliding_cache_round_trip_keeps_the_window(model, model_name, cache_class) -> None:
    cache = sliding_cache(model, model_name, cache_class)
    slides_or_skip(cache, cache_class)
    check_round_trip_keeps_window(model, cache)


@no_cache_probe(save_and_load_without_cache)
@pytest.mark.parametrize("cache_class", ["DynamicCache(config)", "StaticCache(config)", "dedicated"])
def test_saved_and_loaded_sliding_program_keeps_the_window(model, model_name, cache_class) -> None:
    cache = sliding_cache(model, model_name, cache_class)
    slides_or_skip(cache, cache_class)
    check_saved_program_keeps_window(model, cache)


@no_cache_probe(compile_without_cache)
def test_sliding_decode_loop_compiles_and_matches_eager(model, model_name, record_property) -> None:
    cache = sliding_cache(model, model_name, "StaticCache(config)")
    record_property("backend", BACKEND)
    check_compiled_decode_keeps_window(model, cache, BACKEND, sliding_layers(cache))
