"""Tiny models and filled caches built from configs, for every transformers release in the matrix.

Nothing here downloads anything: models are random-initialised from small configs under a fixed seed.
Constructors and keyword names moved between releases, so builders try the known call shapes in turn
(feature detection by calling), never by comparing version strings.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
import transformers
from transformers import cache_utils

from kvmatrix.run.process.attribution import eager

PROMPT_LEN = 4
MAX_CACHE_LEN = 32
TINY = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=128,
    max_position_embeddings=128,
)


def tiny_llama() -> torch.nn.Module:
    """A 2-layer random Llama in eval mode (GQA: 4 heads, 2 KV heads, head_dim 8)."""
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY)).eval()


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


def first_working(builders: list[Callable[[], Any]]) -> Any:
    """Return the result of the first builder that does not raise TypeError (a call shape mismatch)."""
    errors = []
    for build in builders:
        try:
            return build()
        except TypeError as exc:
            errors.append(str(exc))
    raise TypeError("no known constructor call shape works: " + " | ".join(errors))


def static_cache(config: Any, cls: type | None = None, max_cache_len: int = MAX_CACHE_LEN, batch: int = 1,
                 dtype: torch.dtype = torch.float32) -> Any:
    """A StaticCache (or a subclass sharing its constructor) for `batch` sequences of `dtype`, on CPU.
    Releases whose constructor takes no batch size or dtype allocate on first use."""
    cls = cls or cache_utils.StaticCache
    common = dict(config=config, max_cache_len=max_cache_len)
    return first_working(
        [
            lambda: cls(**common, batch_size=batch, device="cpu", dtype=dtype),
            lambda: cls(**common, max_batch_size=batch, device="cpu", dtype=dtype),
            lambda: cls(**common),
        ]
    )


def dynamic_cache(config: Any = None) -> Any:
    """An empty DynamicCache; given a config, the layer types follow it where the release supports that."""
    if config is not None and "config" in inspect.signature(cache_utils.DynamicCache.__init__).parameters:
        return cache_utils.DynamicCache(config=config)
    return cache_utils.DynamicCache()


def forward_kwargs(model: torch.nn.Module, cache: Any, cache_position: torch.Tensor) -> dict[str, Any]:
    """Keyword arguments for a cached forward; 5.x renames `past_key_values` to `cache`, and some 5.x
    models (T5) no longer take `cache_position`."""
    params = inspect.signature(model.forward).parameters
    name = "past_key_values" if "past_key_values" in params else "cache"
    kwargs = {name: cache, "use_cache": True}
    if "cache_position" in params:
        kwargs["cache_position"] = cache_position
    return kwargs


class DecodeStep(torch.nn.Module):
    """One cached forward: (input_ids, cache, cache_position) -> (logits, updated cache)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, cache: Any, cache_position: torch.Tensor) -> tuple[Any, Any]:
        out = self.model(input_ids=input_ids, **forward_kwargs(self.model, cache, cache_position))
        return out.logits, out.past_key_values


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


def prompt_ids(length: int = PROMPT_LEN, seed: int = 1, batch: int = 1) -> torch.Tensor:
    """Deterministic random token ids of shape (batch, length)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, TINY["vocab_size"], (batch, length), generator=generator)


EXAMPLE_PROMPT_SEED = 1
OTHER_PROMPT_SEED = 11
"""Caches are prefilled from the example prompt (what export traces with) and, to prove an exported program
reads the cache it is given, from another prompt."""


def prefilled(model: torch.nn.Module, kind: str, length: int = PROMPT_LEN, batch: int = 1,
              seed: int = EXAMPLE_PROMPT_SEED) -> Any:
    """A cache of `kind` (DynamicCache / StaticCache) after an eager prefill of `length` tokens of the
    prompt drawn with `seed`. A failing prefill is a setup failure (kvmatrix.run.process.attribution)."""
    cache = dynamic_cache() if kind == "DynamicCache" else static_cache(model.config, batch=batch)
    with torch.no_grad(), eager(f"{kind} prefill"):
        DecodeStep(model)(prompt_ids(length, seed=seed, batch=batch), cache, torch.arange(length))
    return cache


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
