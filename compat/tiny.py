"""The tiny model and decode step that `kvcc check` and the matrix's suites both run: a random Llama from a
small config, its caches and prompts, for every transformers release in the matrix.

Nothing here downloads anything: the model is random-initialised under a fixed seed. Constructors and
keyword names moved between releases, so builders try the known call shapes in turn (feature detection by
calling), never by comparing version strings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import transformers
from transformers import cache_utils

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
EXAMPLE_PROMPT_SEED = 1
OTHER_PROMPT_SEED = 11
"""Caches are prefilled from the example prompt (what export traces with) and, to prove an exported program
reads the cache it is given, from another prompt."""


def tiny_llama() -> torch.nn.Module:
    """A 2-layer random Llama in eval mode (GQA: 4 heads, 2 KV heads, head_dim 8)."""
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY)).eval()


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


def empty_cache(kind: str, config: Any, batch: int = 1, max_cache_len: int = MAX_CACHE_LEN) -> Any:
    """An empty cache of `kind`: a DynamicCache, or a StaticCache of `max_cache_len` for `batch` sequences."""
    return dynamic_cache() if kind == "DynamicCache" else static_cache(config, max_cache_len=max_cache_len,
                                                                       batch=batch)


def forward_kwargs(model: torch.nn.Module, cache: Any, cache_position: torch.Tensor) -> dict[str, Any]:
    """Keyword arguments for a cached forward; 5.x renames `past_key_values` to `cache`, and some 5.x
    models (T5, later 5.x Llama) no longer take `cache_position`."""
    params = inspect.signature(model.forward).parameters
    name = "past_key_values" if "past_key_values" in params else "cache"
    kwargs = {name: cache, "use_cache": True}
    if "cache_position" in params:
        kwargs["cache_position"] = cache_position
    return kwargs


class DecodeStep(torch.nn.Module):
    """One cached forward: (input_ids, cache, cache_position) -> (logits, updated cache), the step exported,
    its cache returned, which strict export must rebuild."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, cache: Any, cache_position: torch.Tensor) -> tuple[Any, Any]:
        out = self.model(input_ids=input_ids, **forward_kwargs(self.model, cache, cache_position))
        return out.logits, out.past_key_values


def prompt_ids(length: int = PROMPT_LEN, seed: int = EXAMPLE_PROMPT_SEED, batch: int = 1) -> torch.Tensor:
    """Deterministic random token ids of shape (batch, length)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, TINY["vocab_size"], (batch, length), generator=generator)


def fill(model: torch.nn.Module, cache: Any, length: int = PROMPT_LEN, batch: int = 1,
         seed: int = EXAMPLE_PROMPT_SEED) -> Any:
    """`cache` after an eager prefill of `length` tokens of the prompt drawn with `seed`."""
    with torch.no_grad():
        DecodeStep(model)(prompt_ids(length, seed=seed, batch=batch), cache, torch.arange(length))
    return cache
