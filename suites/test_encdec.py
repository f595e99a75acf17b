"""Encoder-decoder (tiny T5) with an EncoderDecoderCache: export a decode step, round-trip the cache,
compile a short decode loop. The cache is used after its first step, so the cross-attention part is
filled and `is_updated` is set, the state exporters (Whisper, T5, Bart) ship."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils import _pytree as pytree

from suites.models import clone, kv_tensors
from suites.seq2seq import Seq2SeqDecodeStep, after_first_step, greedy, tiny_t5

BACKEND = os.environ.get("KVCC_COMPILE_BACKEND", "inductor")


@pytest.fixture(scope="module")
def t5() -> torch.nn.Module:
    return tiny_t5()


@pytest.mark.parametrize("mode", ["strict", "non-strict"])
def test_encoder_decoder_step_exports_and_matches_eager(t5, mode: str, record_property) -> None:
    cache, states = after_first_step(t5)
    token, position = torch.ones(1, 1, dtype=torch.long), torch.tensor([1])
    with torch.no_grad():
        program = torch.export.export(
            Seq2SeqDecodeStep(t5), (token, states, clone(cache), position), strict=mode == "strict"
        )
        eager_logits, eager_cache = Seq2SeqDecodeStep(t5)(token, states, clone(cache), position)
        logits, out_cache = program.module()(token, states, clone(cache), position)
    torch.testing.assert_close(logits, eager_logits)
    assert type(out_cache) is type(eager_cache)
    for got, want in zip(kv_tensors(out_cache), kv_tensors(eager_cache), strict=True):
        torch.testing.assert_close(got, want)


def test_encoder_decoder_cache_round_trip_keeps_both_parts_and_is_updated(t5) -> None:
    cache, _ = after_first_step(t5)
    leaves, spec = pytree.tree_flatten(cache)
    assert leaves and all(isinstance(leaf, torch.Tensor) for leaf in leaves), "not a pytree node"
    rebuilt = pytree.tree_unflatten(leaves, spec)
    assert type(rebuilt) is type(cache)
    assert dict(rebuilt.is_updated) == dict(cache.is_updated) and any(cache.is_updated.values())
    for part in ("self_attention_cache", "cross_attention_cache"):
        for got, want in zip(kv_tensors(getattr(rebuilt, part)), kv_tensors(getattr(cache, part)), strict=True):
            assert torch.equal(got, want), part


def test_encoder_decoder_decode_loop_compiles_and_matches_eager(t5, record_property) -> None:
    cache, states = after_first_step(t5)
    eager = greedy(Seq2SeqDecodeStep(t5), cache, states, steps=4)
    torch._dynamo.reset()
    compiled = greedy(torch.compile(Seq2SeqDecodeStep(t5), backend=BACKEND), cache, states, steps=4)
    record_property("backend", BACKEND)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)
