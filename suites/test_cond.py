"""Cross-attention cache update selected by `torch.cond` (pytorch/executorch#16366), exported for real.

The exported program is run for the first step (empty cache: compute K/V and write them) and a later
step (filled cache: reuse), each compared with eager Python control flow, the cache contents included, and
the reuse branch is run on a cache the program never saw, so a program that baked its cache in (the cache
tensors turned into constants) fails by name.
"""

from __future__ import annotations

import pytest
import torch
from transformers import cache_utils

from compat.tiny import dynamic_cache
from kvmatrix.run.process.attribution import eager, no_cache_probe
from suites.support.cross_attention import CrossAttention, TensorCrossAttention, define_ops
from suites.support.exporting import BAKED_IN
from suites.support.models import clone, kv_tensors

ENCODER_LEN = 6


def empty_cross_cache() -> object:
    """An EncoderDecoderCache whose cross-attention part holds zeroed K/V slots for the encoder length."""
    cross = dynamic_cache()
    zeros = torch.zeros(1, 2, ENCODER_LEN, 8)
    cross.update(zeros.clone(), zeros.clone(), 0)
    return cache_utils.EncoderDecoderCache(dynamic_cache(), cross)


def states(seed: int, length: int) -> torch.Tensor:
    return torch.randn(1, length, 32, generator=torch.Generator().manual_seed(seed))


def filled_cross_cache(seed: int) -> object:
    """An EncoderDecoderCache whose cross-attention K/V slots already hold values (another cache than the
    export example's zeros)."""
    cache = empty_cross_cache()
    generator = torch.Generator().manual_seed(seed)
    for slot in kv_tensors(cache.cross_attention_cache)[:2]:
        slot.copy_(torch.randn(slot.shape, generator=generator))
    return cache


def export_without_cache(mode: str) -> None:
    """The same block and torch.cond with its K/V slots as plain tensors, both branches against eager."""
    define_ops()
    module, reference = CrossAttention(), CrossAttention(use_cond=False)
    reference.load_state_dict(module.state_dict())
    zeros = torch.zeros(1, 2, ENCODER_LEN, 8)
    example = (states(1, 1), states(2, ENCODER_LEN), zeros.clone(), zeros.clone(), torch.tensor(False))
    with torch.no_grad():
        program = torch.export.export(TensorCrossAttention(module), example, strict=mode == "strict")
        for initialized in (False, True):
            args = (states(3, 1), states(4, ENCODER_LEN), torch.randn(zeros.shape), torch.randn(zeros.shape))
            want = TensorCrossAttention(reference)(*clone(args), torch.tensor(initialized))
            torch.testing.assert_close(program.module()(*clone(args), torch.tensor(initialized)), want)


@no_cache_probe(export_without_cache)
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
        with eager("first step (the reference)"):
            want = reference(first[0], first[1], eager_cache, first[2])
        torch.testing.assert_close(run(first[0], first[1], exported_cache, first[2]), want)
        written = kv_tensors(exported_cache.cross_attention_cache)[:2]
        assert any(t.abs().sum() > 0 for t in written), f"{BAKED_IN} (the K/V it wrote never reached the caller's cache)"
        for got, want in zip(written, kv_tensors(eager_cache.cross_attention_cache)[:2], strict=True):
            torch.testing.assert_close(got, want)

        # Later step: the cache is filled, so other encoder states must be ignored (the reuse branch).
        later = (states(3, 1), states(4, ENCODER_LEN), torch.tensor(True))
        reused = run(later[0], later[1], exported_cache, later[2])
        torch.testing.assert_close(reused, reference(later[0], later[1], eager_cache, later[2]))
        recomputed = reference(later[0], later[1], clone(cache), torch.tensor(False))
        assert not torch.allclose(reused, recomputed), "the predicate did not select the reuse branch"

        # The reuse branch on a cache the program has never seen reads that cache.
        other = filled_cross_cache(seed=9)
        on_other = run(later[0], later[1], clone(other), later[2])
        assert not torch.allclose(on_other, run(later[0], later[1], clone(cache), later[2])), BAKED_IN
        torch.testing.assert_close(on_other, reference(later[0], later[1], clone(other), later[2]))
