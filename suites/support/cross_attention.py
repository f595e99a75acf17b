"""A cross-attention block whose K/V cache update is selected by `torch.cond`.

The pattern of pytorch/executorch#16366 (used by optimum-executorch for Whisper): the first decode step
computes cross-attention K/V from the encoder states and writes them into the cache, later steps reuse
the cache, and a tensor predicate chooses between the two inside the graph. `torch.cond` forbids its
branches to alias or mutate their inputs, so two custom ops carry the cache traffic:
`kvcc::alias` returns copies of the cached K/V, and `kvcc::update_cross_attn_cache` copies new values
into the cache while declaring no mutation (the PR's own trade-off, acceptable for inference) and returns
a copy of the updated cache. Both have fake kernels so export can trace them.
"""

from __future__ import annotations

from typing import Any

import torch

from suites.support.models import kv_tensors

_OPS_DEFINED = False


def define_ops() -> None:
    """Define the two custom ops once per process (torch.library rejects a second definition)."""
    global _OPS_DEFINED
    if _OPS_DEFINED:
        return

    @torch.library.custom_op("kvcc::alias", mutates_args=())
    def alias(keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return keys.clone(), values.clone()

    @alias.register_fake
    def _(keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.empty_like(keys), torch.empty_like(values)

    @torch.library.custom_op("kvcc::update_cross_attn_cache", mutates_args=())
    def update_cross_attn_cache(value: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
        cache[:, :, : value.shape[2]].copy_(value)
        return cache.clone()

    @update_cross_attn_cache.register_fake
    def _(value: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(cache)

    _OPS_DEFINED = True


class CrossAttention(torch.nn.Module):
    """Cross attention reading K/V from an EncoderDecoderCache's cross-attention part. The cache is an
    input (a pytree) and is updated in place, as in the PR; only the attention output is returned."""

    def __init__(self, hidden: int = 32, heads: int = 2, head_dim: int = 8, use_cond: bool = True) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.heads, self.head_dim, self.use_cond = heads, head_dim, use_cond
        self.q_proj = torch.nn.Linear(hidden, heads * head_dim)
        self.k_proj = torch.nn.Linear(hidden, heads * head_dim)
        self.v_proj = torch.nn.Linear(hidden, heads * head_dim)

    def _project(self, proj: torch.nn.Linear, states: torch.Tensor) -> torch.Tensor:
        batch, length, _ = states.shape
        return proj(states).view(batch, length, self.heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden: torch.Tensor, encoder_states: torch.Tensor, cache: Any,
                initialized: torch.Tensor) -> torch.Tensor:
        cached_keys, cached_values = kv_tensors(cache.cross_attention_cache)[:2]
        return self.attend(hidden, encoder_states, cached_keys, cached_values, initialized)

    def attend(self, hidden: torch.Tensor, encoder_states: torch.Tensor, cached_keys: torch.Tensor,
               cached_values: torch.Tensor, initialized: torch.Tensor) -> torch.Tensor:
        """The block on K/V slots given as tensors (the cache-free form the attribution ladder exports)."""
        def reuse(keys: torch.Tensor, values: torch.Tensor, states: torch.Tensor):
            return torch.ops.kvcc.alias(keys, values)

        def recompute(keys: torch.Tensor, values: torch.Tensor, states: torch.Tensor):
            new_keys = torch.ops.kvcc.update_cross_attn_cache(self._project(self.k_proj, states), keys)
            new_values = torch.ops.kvcc.update_cross_attn_cache(self._project(self.v_proj, states), values)
            return new_keys, new_values

        operands = [cached_keys, cached_values, encoder_states]  # torch 2.5 accepts a list only
        if self.use_cond:
            keys, values = torch.cond(initialized, reuse, recompute, operands)
        else:  # the eager reference: plain Python control flow on the predicate's value
            keys, values = (reuse if bool(initialized) else recompute)(*operands)
        attention = torch.nn.functional.scaled_dot_product_attention(self._project(self.q_proj, hidden), keys, values)
        return attention.transpose(1, 2).flatten(2)


class TensorCrossAttention(torch.nn.Module):
    """The same block with its K/V slots as plain tensor inputs instead of a cache."""

    def __init__(self, block: CrossAttention) -> None:
        super().__init__()
        self.block = block

    def forward(self, hidden: torch.Tensor, encoder_states: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor, initialized: torch.Tensor) -> torch.Tensor:
        return self.block.attend(hidden, encoder_states, keys, values, initialized)
