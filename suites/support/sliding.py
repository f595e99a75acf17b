"""Window checks of sliding-window (Mistral) and hybrid (Gemma 2) caches, shared by the `sliding` suite and
by tests/compat/test_silent_wrong_checks.py, which runs them against deliberately broken registrations.

A cache that loses its sliding layer types or window on the way through the pytree (transformers#47900:
rebuilt after unflatten with plain layers) still gives eager's logits for a while, but grows without bound.
So these checks compare every returned cache's layer types and window attributes with eager's, and bound
the key length of every layer that slides. Which layers slide is read off the cache the check starts from
(a prefill of PROMPT_LEN > SLIDING_WINDOW tokens): a layer that holds at most the window after it slides.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree
from transformers import cache_utils

from compat.tiny import EXAMPLE_PROMPT_SEED, PROMPT_LEN, DecodeStep, dynamic_cache, prompt_ids, static_cache
from kvmatrix.run.process.attribution import eager
from suites.support.exporting import BAKED_IN, assert_same_spec_as_traced
from suites.support.instances import SLIDING_WINDOW, _model
from suites.support.models import clone, greedy_loop, kv_tensors
from suites.support.nodes import node_leaves

MODELS = {
    "mistral": ("MistralConfig", "MistralForCausalLM", {}),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {"head_dim": 8}),
}
DEDICATED = {"mistral": "SlidingWindowCache", "gemma2": "HybridCache"}
"""The class a release dedicates to each model's static sliding cache, where it has one."""
STEPS = 4
"""Decode steps after the prompt: PROMPT_LEN + STEPS tokens, more than twice the window."""
WINDOW_ATTRIBUTES = ("is_sliding", "sliding_window", "sliding_window_size", "sliding_window_len", "max_cache_len")
"""The attributes that carry a cache's or a layer's window across the releases (list-based caches keep them
on the cache, layer-based ones on each layer, some on both)."""
WINDOW_LOST = "layer types or window changed"

WindowState = list[tuple[str, dict[str, Any]]]


def sliding_model(name: str) -> torch.nn.Module:
    """The tiny model `name` (a key of MODELS) with a window of SLIDING_WINDOW < PROMPT_LEN."""
    config_name, model_class, extra = MODELS[name]
    return _model(config_name, model_class, sliding_window=SLIDING_WINDOW, **extra)


def sliding_cache(model: torch.nn.Module, model_name: str, cache_class: str,
                  seed: int = EXAMPLE_PROMPT_SEED) -> Any:
    """A cache of `cache_class` ("StaticCache(config)", "DynamicCache(config)" or "dedicated", the
    release's sliding class) prefilled eagerly with the prompt drawn with `seed`; `n/a` where the release has
    no such class or no DynamicCache built from a config."""
    if cache_class == "dedicated":
        cls = getattr(cache_utils, DEDICATED[model_name], None)
        if cls is None:
            pytest.skip(f"n/a: transformers.cache_utils has no {DEDICATED[model_name]}")
        cache = static_cache(model.config, cls=cls)
    elif cache_class == "DynamicCache(config)":
        cache = dynamic_cache(model.config)
    else:
        cache = static_cache(model.config)
    with torch.no_grad(), eager(f"{model_name} prefill of {cache_class}"):
        DecodeStep(model)(prompt_ids(seed=seed), cache, torch.arange(PROMPT_LEN))
    return cache


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, torch.Tensor) else value


def _window_attributes(obj: Any) -> dict[str, Any]:
    found = {}
    for name in WINDOW_ATTRIBUTES:
        try:
            found[name] = _plain(getattr(obj, name))
        except AttributeError:  # absent, or a property this cache cannot answer (e.g. before allocation)
            continue
    return found


def window_state(cache: Any) -> WindowState:
    """The cache's class and window attributes, then each layer's (layer-based releases)."""
    return [(type(obj).__name__, _window_attributes(obj)) for obj in [cache, *(getattr(cache, "layers", None) or [])]]


def key_lengths(cache: Any) -> list[int]:
    """The number of positions each layer's keys hold (a filled cache)."""
    return [int(keys.shape[-2]) for keys in kv_tensors(cache)[::2]]


def sliding_layers(cache: Any) -> list[int]:
    """The layers of a cache holding more tokens than the window that keep at most the window."""
    return [index for index, length in enumerate(key_lengths(cache)) if length <= SLIDING_WINDOW]


def slides_or_skip(cache: Any, cache_class: str) -> list[int]:
    """`sliding_layers(cache)`, or `n/a` where no layer of this release's `cache_class` slides."""
    layers = sliding_layers(cache)
    if not layers:
        pytest.skip(f"n/a: no layer of this release's {cache_class} keeps only the window "
                    f"(key lengths {key_lengths(cache)} after a prompt of {PROMPT_LEN} > {SLIDING_WINDOW})")
    return layers


def assert_keeps_window(got: Any, want: WindowState, layers: list[int], where: str) -> None:
    """`got` has the layer types and window attributes `want` (eager's), and its sliding `layers` hold at
    most the window."""
    state = window_state(got)
    assert state == want, f"{where}: {WINDOW_LOST}: {want} became {state}"
    lengths = key_lengths(got)
    over = {index: lengths[index] for index in layers if lengths[index] > SLIDING_WINDOW}
    assert not over, f"{where}: sliding layers hold more than the window of {SLIDING_WINDOW}: {over}"


def decode_in_window(step: Callable[..., Any], cache: Any, layers: list[int], steps: int = STEPS,
                     eager_states: list[WindowState] | None = None,
                     traced_spec: Any = None) -> tuple[list[torch.Tensor], Any, list[WindowState]]:
    """Greedy steps after the prompt, each fed the cache the previous one returned. Every cache fed and the
    last one returned keep `eager_states` (the window states of eager's run, step by step) and the window on
    `layers`; with `traced_spec` (an exported program's cache spec) each fed cache must still have it.
    Without `eager_states` (eager's own run) the states are only collected. Returns the logits, the last
    cache and the window state of every cache seen."""
    states: list[WindowState] = []

    def check(current: Any) -> None:
        if eager_states is not None:
            assert_keeps_window(current, eager_states[len(states)], layers, f"cache fed to step {len(states)}")
        if traced_spec is not None:
            assert_same_spec_as_traced(traced_spec, current)
        states.append(window_state(current))

    logits, last = greedy_loop(step, cache, steps, PROMPT_LEN, prompt_ids(1, seed=5), check)
    if eager_states is not None:
        assert_keeps_window(last, eager_states[len(states)], layers, "cache returned by the last step")
    states.append(window_state(last))
    return logits, last, states


def eager_decode(model: torch.nn.Module, cache: Any, steps: int = STEPS) -> tuple[list[torch.Tensor], Any, list[WindowState]]:
    """The reference: `decode_in_window` of eager's step on a copy of `cache`."""
    with eager("decode (the reference)"):
        return decode_in_window(DecodeStep(model), clone(cache), [], steps)


def assert_logits_match(got: list[torch.Tensor], want: list[torch.Tensor], **tolerance: float) -> None:
    """The logits of every step equal eager's."""
    for step, (a, b) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(a, b, msg=lambda m, s=step: f"step {s}: {m}", **tolerance)


def check_round_trip_keeps_window(model: torch.nn.Module, cache: Any) -> None:
    """flatten / unflatten rebuilds `cache` with its layer types and window, and the rebuilt cache decodes
    past the window like eager, keeping it on every step."""
    layers = sliding_layers(cache)
    leaves, spec = node_leaves(cache)
    rebuilt = pytree.tree_unflatten([leaf if leaf is None else leaf.clone() for leaf in leaves], spec)
    assert_keeps_window(rebuilt, window_state(cache), layers, "after flatten / unflatten")
    eager_logits, eager_cache, states = eager_decode(model, cache)
    logits, continued, _ = decode_in_window(DecodeStep(model), rebuilt, layers, eager_states=states)
    assert_logits_match(logits, eager_logits)
    for got, want in zip(kv_tensors(continued), kv_tensors(eager_cache), strict=True):
        torch.testing.assert_close(got, want)


def check_saved_program_keeps_window(model: torch.nn.Module, cache: Any) -> None:
    """A decode step exported (non-strict) with `cache` (prefilled past the window) as input, its cache
    returned, then torch.export.save / load: the loaded program returns a cache with eager's layer types and
    window attributes, at most the window on the sliding layers, eager's key/value tensors and logits.
    (Feeding a program its own returned cache for more steps is check_exported_decode_keeps_window's.)"""
    layers = sliding_layers(cache)
    token, position = prompt_ids(1, seed=5), torch.tensor([PROMPT_LEN])
    with torch.no_grad():
        program = torch.export.export(DecodeStep(model), (token, clone(cache), position), strict=False)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    with torch.no_grad():
        with eager("decode step (the reference)"):
            eager_logits, eager_cache = DecodeStep(model)(token, clone(cache), position)
        logits, returned = loaded.module()(token, clone(cache), position)
    assert_keeps_window(returned, window_state(eager_cache), layers, "cache returned by the loaded program")
    torch.testing.assert_close(logits, eager_logits)
    for got, want in zip(kv_tensors(returned), kv_tensors(eager_cache), strict=True):
        torch.testing.assert_close(got, want)


def check_exported_decode_keeps_window(model: torch.nn.Module, caches: list[Any], strict: bool) -> None:
    """A decode step exported with `caches[0]` as input, run from each cache of `caches` (the example one,
    then ones prefilled from other prompts) fed its own returned cache past the window: every cache keeps
    eager's layer types, window and tree spec, and the logits are eager's (and move with the cache)."""
    layers = sliding_layers(caches[0])
    with torch.no_grad():
        program = torch.export.export(DecodeStep(model), (prompt_ids(1, seed=5), clone(caches[0]),
                                                          torch.tensor([PROMPT_LEN])), strict=strict)
    results = []
    for cache in caches:
        eager_logits, eager_cache, states = eager_decode(model, cache)
        logits, out_cache, _ = decode_in_window(program.module(), clone(cache), layers, eager_states=states,
                                                traced_spec=pytree.tree_structure(cache))
        results.append((logits, out_cache, eager_logits, eager_cache))
    (example_logits, _, example_eager, _), *others = results
    for other_logits, _, other_eager, _ in others:
        assert not torch.allclose(other_eager[0], example_eager[0]), "the other cache does not change eager's answer"
        assert not torch.allclose(other_logits[0], example_logits[0]), BAKED_IN
    for logits, out_cache, eager_logits, eager_cache in results:
        assert_logits_match(logits, eager_logits)
        for got, want in zip(kv_tensors(out_cache), kv_tensors(eager_cache), strict=True):
            torch.testing.assert_close(got, want)


def check_compiled_decode_keeps_window(model: torch.nn.Module, cache: Any, backend: str, layers: list[int],
                                       steps: int = 2 * STEPS) -> None:
    """torch.compile's decode loop from `cache`, each step fed the cache the previous returned: every cache
    keeps eager's layer types and window attributes, its sliding `layers` (read off the cache the user
    started from) hold at most the window, and the logits are eager's."""
    eager_logits, _, states = eager_decode(model, cache, steps)
    torch._dynamo.reset()
    compiled = torch.compile(DecodeStep(model), backend=backend)
    logits, _, _ = decode_in_window(compiled, clone(cache), layers, steps, eager_states=states)
    assert_logits_match(logits, eager_logits, rtol=1e-4, atol=1e-4)
