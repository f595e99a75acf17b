"""What the suites build on compat.tiny's model and decode step (the one builder, shared with `kvcc check`):
the cache layout of the release, filled caches whose prefill is the test's setup, other steps, the greedy
loop."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
from transformers import cache_utils

from compat.tiny import EXAMPLE_PROMPT_SEED, PROMPT_LEN, DecodeStep, empty_cache, fill
from kvmatrix.run.process.attribution import eager


def layout() -> str:
    """`layer` (cache.layers), `list-module` (key_cache lists, Cache is nn.Module) or `list`."""
    if hasattr(cache_utils, "CacheLayerMixin") or hasattr(cache_utils, "DynamicLayer"):
        return "layer"
    return "list-module" if issubclass(cache_utils.Cache, torch.nn.Module) else "list"


def static_layer_init() -> str:
    """How the installed StaticLayer allocates, read off the class: `absent` (list-based releases), `eager`
    (its `__init__` allocates: no `lazy_initialization`), or `lazy(key)` / `lazy(key, value)` after the
    arguments `lazy_initialization` takes (the first layer-based releases with lazy layers size them from
    the keys alone, later ones from keys and values)."""
    layer = getattr(cache_utils, "StaticLayer", None)
    if layer is None:
        return "absent"
    lazy = getattr(layer, "lazy_initialization", None)
    if lazy is None:
        return "eager"
    names = [name for name in inspect.signature(lazy).parameters if name != "self"]
    return "lazy(" + ", ".join(name.removesuffix("_states") for name in names) + ")"


class FlatOutputsStep(DecodeStep):
    """The decode step returning what export wrappers return instead of a cache object: the logits and the
    updated cache's key and value tensors (k0, v0, k1, v1, ...) as a plain tuple, so no cache object crosses
    the program's outputs (its input is still the cache)."""

    def forward(self, input_ids: torch.Tensor, cache: Any, cache_position: torch.Tensor) -> tuple[Any, Any]:
        logits, updated = super().forward(input_ids, cache, cache_position)
        return logits, tuple(kv_tensors(updated))


class NoCacheStep(torch.nn.Module):
    """The same model with no cache at all: input_ids -> logits (`use_cache=False`), the attribution
    ladder's cache-free rung (kvmatrix.run.process.attribution)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, use_cache=False).logits


def prefilled(model: torch.nn.Module, kind: str, length: int = PROMPT_LEN, batch: int = 1,
              seed: int = EXAMPLE_PROMPT_SEED, empty: Any = None) -> Any:
    """A cache of `kind` (DynamicCache / StaticCache; or the cache `empty`) after an eager prefill of `length`
    tokens of the prompt drawn with `seed`. A failing prefill is a setup failure
    (kvmatrix.run.process.attribution)."""
    cache = empty_cache(kind, model.config, batch) if empty is None else empty
    with eager(f"{kind} prefill"):
        return fill(model, cache, length, batch, seed)


def kv_tensors(cache: Any) -> list[torch.Tensor]:
    """The key and value tensors of a cache in layer order (k0, v0, k1, v1, ...), for either layout;
    an encoder-decoder cache gives its self-attention tensors, then its cross-attention ones."""
    if hasattr(cache, "self_attention_cache"):
        return kv_tensors(cache.self_attention_cache) + kv_tensors(cache.cross_attention_cache)
    if hasattr(cache, "layers"):
        pairs = [(layer.keys, layer.values) for layer in cache.layers]
    else:
        pairs = list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [t for pair in pairs for t in pair if t is not None]


def clone(cache: Any) -> Any:
    """An independent deep copy (tensors too), so eager and exported runs start from equal state."""
    return copy.deepcopy(cache)


def greedy_loop(step: Callable[[torch.Tensor, Any, torch.Tensor], tuple[torch.Tensor, Any]], cache: Any,
                steps: int, first_position: int, token: torch.Tensor,
                before_step: Callable[[Any], None] | None = None,
                after_step: Callable[[], None] | None = None) -> tuple[list[torch.Tensor], Any]:
    """The one greedy decode loop of the suites: feed `token` at `first_position`, then `steps - 1` more
    tokens, each the argmax of the step before, each step fed the cache the previous one returned.
    `before_step(cache)` and `after_step()` run around every step (spec checks, timing, graph counts).
    Returns the logits of every step and the last cache."""
    logits_per_step = []
    with torch.no_grad():
        for i in range(steps):
            if before_step is not None:
                before_step(cache)
            logits, cache = step(token, cache, torch.tensor([first_position + i]))
            if after_step is not None:
                after_step()
            logits_per_step.append(logits)
            token = logits[:, -1:].argmax(-1)
    return logits_per_step, cache
