"""Filled instances of every cache and layer class the installed transformers can build.

Caches are filled by a real forward of a tiny model (Llama, Mistral with a sliding window shorter than the
prompt, Gemma 2 with alternating sliding layers) or, for classes no tiny model drives, by `update()`.
Layers come out of the caches. What could not be built is kept with its error, so a missing instance is
reported as such, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import transformers
from transformers import cache_utils

from compat.catalog import CACHE_CLASSES
from compat.tiny import PROMPT_LEN, TINY, dynamic_cache, fill, first_working, static_cache

SLIDING_WINDOW = 3  # shorter than PROMPT_LEN, so sliding layers really slide
MAX_LAYER_LEN = 16


def _model(config_name: str, model_name: str, **extra: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**TINY, **extra)
    return getattr(transformers, model_name)(config).eval()


def _encoder_decoder(llama: torch.nn.Module) -> Any:
    self_attention = fill(llama, dynamic_cache())
    cross_attention = dynamic_cache()
    generator = torch.Generator().manual_seed(7)
    for layer_idx in range(TINY["num_hidden_layers"]):
        k, v = (torch.randn(1, 2, 5, 8, generator=generator) for _ in range(2))
        cross_attention.update(k, v, layer_idx)
    cache = cache_utils.EncoderDecoderCache(self_attention, cross_attention)
    for layer_idx in range(TINY["num_hidden_layers"]):
        cache.is_updated[layer_idx] = True
    return cache


def _chunked() -> Any:
    config = transformers.Llama4TextConfig(**TINY, attention_chunk_size=2, head_dim=8)
    config.sliding_window = config.attention_chunk_size  # 4.55 sizes chunked layers from `sliding_window`
    cache = static_cache(config, cls=getattr(cache_utils, "HybridChunkedCache", cache_utils.StaticCache))
    generator = torch.Generator().manual_seed(8)
    for layer_idx in range(TINY["num_hidden_layers"]):
        k, v = (torch.randn(1, 2, PROMPT_LEN, 8, generator=generator) for _ in range(2))
        cache.update(k, v, layer_idx, {"cache_position": torch.arange(PROMPT_LEN)})
    return cache


def _direct_layer(cls: type) -> Any:
    """A layer no tiny model's cache uses in this release (e.g. a deprecated alias), built and filled alone."""
    window = dict(sliding_window=SLIDING_WINDOW)
    layer = first_working(
        [
            lambda: cls(max_cache_len=MAX_LAYER_LEN, **window),
            lambda: cls(max_cache_len=MAX_LAYER_LEN, batch_size=1, num_heads=2, head_dim=8, **window),
            lambda: cls(max_cache_len=MAX_LAYER_LEN),
            lambda: cls(**window),
            lambda: cls(),
        ]
    )
    generator = torch.Generator().manual_seed(9)
    k, v = (torch.randn(1, 2, PROMPT_LEN, 8, generator=generator) for _ in range(2))
    layer.update(k, v, {"cache_position": torch.arange(PROMPT_LEN), **window})
    return layer


def _builders(llama: torch.nn.Module) -> dict[str, Callable[[], Any]]:
    def mistral() -> torch.nn.Module:
        return _model("MistralConfig", "MistralForCausalLM", sliding_window=SLIDING_WINDOW)

    def gemma2() -> torch.nn.Module:
        return _model("Gemma2Config", "Gemma2ForCausalLM", sliding_window=SLIDING_WINDOW, head_dim=8)

    builders = {
        "llama DynamicCache": lambda: fill(llama, dynamic_cache()),
        "llama StaticCache": lambda: fill(llama, static_cache(llama.config)),
        "EncoderDecoderCache of DynamicCaches": lambda: _encoder_decoder(llama),
        "mistral DynamicCache(config)": lambda: (m := mistral()) and fill(m, dynamic_cache(m.config)),
        "mistral StaticCache": lambda: (m := mistral()) and fill(m, static_cache(m.config)),
        "llama4 chunked cache": _chunked,
    }
    # Some 4.4x releases cannot prefill past the window with these classes (an SDPA shape error), so a
    # prompt inside the window is the fallback that still yields a filled instance.
    for name, model_factory in [("SlidingWindowCache", mistral), ("HybridCache", gemma2)]:
        for length in (PROMPT_LEN, SLIDING_WINDOW - 1) if hasattr(cache_utils, name) else ():
            builders[f"{name} via model, prompt {length}"] = lambda n=name, f=model_factory, k=length: (
                (m := f()) and fill(m, static_cache(m.config, cls=getattr(cache_utils, n)), k)
            )
    return builders


def _nested(obj: Any) -> list[Any]:
    """The object and every cache / layer object inside it."""
    found = [obj]
    for attr in ("self_attention_cache", "cross_attention_cache"):
        if hasattr(obj, attr):
            found += _nested(getattr(obj, attr))
    for layer in getattr(obj, "layers", None) or []:
        found.append(layer)
    return found


class InstancePool:
    """Built instances by class, plus the errors of builders that failed."""

    def __init__(self, llama: torch.nn.Module) -> None:
        self.by_class: dict[type, Any] = {}
        self.errors: dict[str, str] = {}
        for name, build in _builders(llama).items():
            try:
                built = build()
            except Exception as exc:  # a builder that does not fit this release is recorded, not fatal
                self.errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            for obj in _nested(built):
                self.by_class.setdefault(type(obj), obj)
        for entry in CACHE_CLASSES:
            cls = getattr(cache_utils, entry.name, None)
            if entry.role == "layer" and cls is not None and cls not in self.by_class:
                try:
                    self.by_class[cls] = _direct_layer(cls)
                except Exception as exc:
                    self.errors[f"{entry.name} built alone"] = f"{type(exc).__name__}: {exc}"[:300]

    def instance_of(self, cls: type) -> Any:
        """A filled instance of exactly `cls`; raises LookupError listing builder errors if none."""
        if cls not in self.by_class:
            raise LookupError(f"no filled {cls.__name__} could be built; builder errors: {self.errors}")
        return self.by_class[cls]
