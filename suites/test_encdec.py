"""Encoder-decoder (tiny T5) with an EncoderDecoderCache: export a decode step, round-trip the cache,
compile a short decode loop (with KVCC_TRACE_BACKEND: dynamo and AOTAutograd decide that verdict; the
code-generation test is test_compile's StaticCache loop). The cache is used after its first step, so the
cross-attention part is filled and `is_updated` is set, the state exporters (Whisper, T5, Bart) ship. The
exported step is also run on a cache from another source sentence, so a program that baked its cache in
fails by name."""

from __future__ import annotations

import pytest
import torch
from torch.utils import _pytree as pytree

from kvmatrix.run.process.attribution import eager, no_cache_probe
from kvmatrix.settings import setting
from suites.support.exporting import assert_matches_eager
from suites.support.models import clone, kv_tensors
from suites.support.nodes import node_leaves
from suites.support.seq2seq import (
    Seq2SeqDecodeStep,
    Seq2SeqNoCacheStep,
    after_first_step,
    encoder_states,
    greedy,
    tiny_t5,
)

BACKEND = setting("KVCC_TRACE_BACKEND")
OTHER_SOURCE_SEED = 14


@pytest.fixture(scope="module")
def t5() -> torch.nn.Module:
    return tiny_t5()


def export_without_cache(t5, mode: str) -> None:
    token, states = torch.ones(1, 2, dtype=torch.long), encoder_states(t5)
    with torch.no_grad():
        program = torch.export.export(Seq2SeqNoCacheStep(t5), (token, states), strict=mode == "strict")
        other = encoder_states(t5, seed=OTHER_SOURCE_SEED)
        torch.testing.assert_close(program.module()(token, other), Seq2SeqNoCacheStep(t5)(token, other))


def compile_without_cache(t5) -> None:
    token, states = torch.ones(1, 2, dtype=torch.long), encoder_states(t5)
    with torch.no_grad():
        compiled = torch.compile(Seq2SeqNoCacheStep(t5), backend=BACKEND)(token, states)
        torch.testing.assert_close(compiled, Seq2SeqNoCacheStep(t5)(token, states), rtol=1e-4, atol=1e-4)


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
def test_encoder_decoder_step_exports_and_matches_eager(t5, mode: str, record_property) -> None:
    """Run on the example's cache and on one from another source sentence (both parts differ)."""
    example, other = after_first_step(t5), after_first_step(t5, seed=OTHER_SOURCE_SEED)
    token, position = torch.ones(1, 1, dtype=torch.long), torch.tensor([1])
    cache, states = example
    with torch.no_grad():
        program = torch.export.export(
            Seq2SeqDecodeStep(t5), (token, states, clone(cache), position), strict=mode == "strict"
        )
    other_cache, other_states = other
    assert_matches_eager(program.module(), Seq2SeqDecodeStep(t5),
                         [(token, states, cache, position), (token, other_states, other_cache, position)])


@pytest.mark.cache_only
def test_encoder_decoder_cache_round_trip_keeps_both_parts_and_is_updated(t5) -> None:
    cache, _ = after_first_step(t5)
    leaves, spec = node_leaves(cache)
    rebuilt = pytree.tree_unflatten(leaves, spec)
    assert type(rebuilt) is type(cache)
    assert dict(rebuilt.is_updated) == dict(cache.is_updated) and any(cache.is_updated.values())
    for part in ("self_attention_cache", "cross_attention_cache"):
        for got, want in zip(kv_tensors(getattr(rebuilt, part)), kv_tensors(getattr(cache, part)), strict=True):
            assert torch.equal(got, want), part


@no_cache_probe(compile_without_cache)
def test_encoder_decoder_decode_loop_compiles_and_matches_eager(t5, record_property) -> None:
    cache, states = after_first_step(t5)
    with eager("greedy decode (the reference)"):
        reference = greedy(Seq2SeqDecodeStep(t5), cache, states, steps=4)
    torch._dynamo.reset()
    compiled = greedy(torch.compile(Seq2SeqDecodeStep(t5), backend=BACKEND), cache, states, steps=4)
    record_property("backend", BACKEND)
    torch.testing.assert_close(compiled, reference, rtol=1e-4, atol=1e-4)
