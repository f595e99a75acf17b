"""The table of transformers cache and layer classes this package knows how to register.

Everything that differs between transformers releases is data here, not version checks: a class is
registered when `transformers.cache_utils` has it, and its attributes are sorted into pytree children
(tensors, lists of tensors or layers, nested caches) and JSON context by the rules below.

Layouts seen in the wild (checked against the released wheels):
- list-based, `Cache` is an `nn.Module` (4.4x, e.g. 4.46, 4.49): `key_cache` / `value_cache` lists, and
  `StaticCache` also registers each tensor as a module buffer `key_cache_<i>` / `value_cache_<i>`.
- list-based, plain object (up to 4.53): the same lists, `Cache` no longer a module.
- layer-based (4.54+, transformers PR #39106): `cache.layers`, each a `CacheLayerMixin` holding `keys` and
  `values`; `StaticLayer.__init__` allocates eagerly in 4.54/4.55 and lazily (`lazy_initialization`) later;
  5.x adds attributes such as a tensor `cumulative_length`.
Because constructors change between releases, rebuilt objects are made with `cls.__new__` and get their
attributes back; no constructor is ever called.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CacheClass:
    """One transformers class that may be registered: its name in `transformers.cache_utils` and role."""

    name: str
    role: str  # "cache" (a whole KV cache) or "layer" (one layer of a layer-based cache)


CACHE_CLASSES: tuple[CacheClass, ...] = (
    CacheClass("DynamicCache", "cache"),
    CacheClass("StaticCache", "cache"),
    CacheClass("EncoderDecoderCache", "cache"),
    CacheClass("SlidingWindowCache", "cache"),
    CacheClass("HybridCache", "cache"),
    CacheClass("HybridChunkedCache", "cache"),
    CacheClass("DynamicLayer", "layer"),
    CacheClass("DynamicSlidingWindowLayer", "layer"),
    CacheClass("StaticLayer", "layer"),
    CacheClass("SlidingWindowLayer", "layer"),
    CacheClass("StaticSlidingWindowLayer", "layer"),
    CacheClass("ChunkedSlidingLayer", "layer"),
)

# Attributes that are always pytree children, even when they hold None or an empty list, so that two
# caches of one class and one fill state have the same tree structure. The order is the leaf order:
# self-attention before cross-attention, and for layer-based caches k0, v0, k1, v1, ... (the order asked
# for in transformers#41901 / pytorch#165395); list-based caches keep transformers' own order (all keys,
# then all values).
CHILD_ATTRIBUTES: tuple[str, ...] = (
    "self_attention_cache",
    "cross_attention_cache",
    "layers",
    "key_cache",
    "value_cache",
    "keys",
    "values",
)

# Attributes whose value transformers sets in more than one spelling of the same thing, kept in one canonical
# form in the context. transformers 4.55's StaticLayer is built with device="cpu" and sets
# device=key_states.device (a torch.device) on its first update: without this, a module-held cache's tree
# spec changes during non-strict export and torch's attribute-assignment check fails with "Node context
# mismatch" (a compat regression caught by the wrapper suite). Maps attribute name -> normalizer in
# compat.node.NORMALIZERS; rebuilt objects get the canonical value.
NORMALIZED_ATTRIBUTES: dict[str, str] = {
    "device": "device",
}

# Attributes that count decoding steps and would make every step's tree spec different (so an exported
# program could never be called twice). They are left out of the context and derived again on unflatten.
# Maps attribute name -> name of the derivation in compat.node.DERIVATIONS.
DERIVED_ATTRIBUTES: dict[str, str] = {
    "_seen_tokens": "first_key_length",
}
