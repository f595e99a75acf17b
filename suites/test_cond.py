"""Cross-attention cache update selected by `torch.cond` (pytorch/executorch#16366), exported for real.

The exported program is run for the first step (empty cache: compute K/V and write them) and a later
step (filled cache: reuse), each compared with eager Python control flow, the cache contents included.
"""

from __future__ import annotations

import pytest
import torch
from transformers import cache_utils

from suites.cross_attention import CrossAttention, define_ops
from suites.models import clone, dynamic_cache, kv_tensors

ENCODER_LEN = 6


def empty_cross_cache() -> object:
    """An EncoderDecoderCache whose cross-attention part holds zeroed K/V slots for the encoder length."""
    cross = dynamic_cache()
    zeros = torch.zeros(1, 2, ENCODER_LEN, 8)
    cross.update(zeros.clone(), zeros.clone(), 0)
    return cache_utils.EncoderDecoderCache(dynamic_cache(), cross)


def states(seed: int, length: int) -> torch.Tensor:
    return torch.randn(1, length, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["strict", "non-strict"])
def test_cond_cross_attention_exports_and_matches_eager_in_both_branches(mode: str) -> None:
    define_ops()
    module = CrossAttention()
    reference = CrossAttention(use_cond=False)
    reference.load_state_dict(module.state_dict())
    cache = empty_cross_cache()
    example = (states(1, 1), states(2, ENCODER_LEN), clone(cache), torch.tensor(False))
    with torch.no_grad():
        program = torch.export.export(module, example, strict=mode == "strict")
        run = program.module()
        eager_cache, exported_cache = clone(cache), clone(cache)

        # First step: the cache is empty, so K/V are computed from the encoder states and written.
        first = (states(1, 1), states(2, ENCODER_LEN), torch.tensor(False))
        torch.testing.assert_close(run(first[0], first[1], exported_cache, first[2]),
                                   reference(first[0], first[1], eager_cache, first[2]))
        written = kv_tensors(exported_cache.cross_attention_cache)[:2]
        for got, want in zip(written, kv_tensors(eager_cache.cross_attention_cache)[:2]):
            torch.testing.assert_close(got, want)
        assert all(t.abs().sum() > 0 for t in written), "the first step did not write K/V into the cache"

        # Later step: the cache is filled, so other encoder states must be ignored (the reuse branch).
        later = (states(3, 1), states(4, ENCODER_LEN), torch.tensor(True))
        reused = run(later[0], later[1], exported_cache, later[2])
        torch.testing.assert_close(reused, reference(later[0], later[1], eager_cache, later[2]))
        recomputed = reference(later[0], later[1], clone(cache), torch.tensor(False))
        assert not torch.allclose(reused, recomputed), "the predicate did not select the reuse branch"
